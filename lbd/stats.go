package lbd

import (
	"bufio"
	"fmt"
	"html"
	"os"
	"strconv"
	"strings"
	"time"
)

// statsRow is one line of HAProxy's statistics: a frontend, a server or a
// backend summary.
type statsRow struct {
	px, sv                      string
	scur, smax, stot, bin, bout uint64
	dreq, ereq, econ, eresp     uint64
	wretr, wredis               uint64
	status                      string
	weight, act, bck            int
	chkfail, chkdown            uint64
	lastchg                     int64
	typ                         int // 0 frontend, 1 backend, 2 server
	lbtot                       uint64
	checkStatus                 string
	checkDur                    int64
	hrsp                        [6]uint64
	reqTot                      uint64
	hasCheck                    bool
	rise, fall, health          int
	addr, cookie, mode, algo    string
	conns                       poolStats // servers
}

// statsRows collects the statistics in HAProxy's order: each proxy's
// frontend line, then its servers, then its backend line.
func (in *Instance) statsRows() []statsRow {
	var rows []statsRow
	now := time.Now()
	for _, px := range in.Cfg.Proxies {
		for _, fe := range in.Frontends {
			if fe.Cfg != px {
				continue
			}
			r := statsRow{px: fe.Name, sv: "FRONTEND", scur: uint64(fe.curConns.Load()), smax: uint64(fe.maxConns.Load()),
				stot: fe.cumConns.Load(), bin: fe.bytesIn.Load(), bout: fe.bytesOut.Load(), dreq: fe.denied.Load(),
				ereq: fe.reqErr.Load(), status: "OPEN", typ: 0, reqTot: fe.reqTotal.Load(), mode: px.Mode.String()}
			for i := range r.hrsp {
				r.hrsp[i] = fe.hrsp[i].Load()
			}
			rows = append(rows, r)
		}
		b := in.Backend(px.Name)
		if b == nil || b.Cfg != px {
			continue
		}
		tot := statsRow{px: b.Name, sv: "BACKEND", typ: 1, stot: b.cumConns.Load(), reqTot: b.reqTotal.Load(),
			mode: px.Mode.String(), algo: px.Balance.Algo}
		for i := range tot.hrsp {
			tot.hrsp[i] = b.hrsp[i].Load()
		}
		for _, s := range b.Servers {
			r := statsRow{px: b.Name, sv: s.Name, typ: 2, scur: uint64(s.cur.Load()), smax: uint64(s.max.Load()),
				stot: s.total.Load(), lbtot: s.total.Load(), bin: s.bytesIn.Load(), bout: s.bytesOut.Load(),
				econ: s.failedConn.Load(), eresp: s.failedResp.Load(), wretr: s.retried.Load(), wredis: s.redisp.Load(),
				status: s.State(), weight: s.Weight, chkfail: s.chkFail.Load(), chkdown: s.downTrans.Load(),
				hasCheck: s.Cfg.Check, rise: s.Cfg.Rise, fall: s.Cfg.Fall, addr: s.address(0), cookie: s.Cfg.Cookie,
				mode: px.Mode.String(), conns: s.conns.stats()}
			s.mu.Lock()
			r.health = s.health
			lc := s.lastChg
			r.checkStatus = s.lastChk
			r.checkDur = s.checkDur.Milliseconds()
			up := s.up && !s.maint
			s.mu.Unlock()
			if lc.IsZero() {
				lc = in.start
			}
			r.lastchg = int64(now.Sub(lc).Seconds())
			if s.Backup {
				r.bck = 1
			} else {
				r.act = 1
			}
			for i := range r.hrsp {
				r.hrsp[i] = s.hrsp[i].Load()
			}
			rows = append(rows, r)
			tot.bin += r.bin
			tot.bout += r.bout
			tot.econ += r.econ
			tot.eresp += r.eresp
			tot.wretr += r.wretr
			tot.wredis += r.wredis
			tot.scur += r.scur
			tot.lbtot += r.lbtot
			if up {
				if s.Backup {
					tot.bck++
				} else {
					tot.act++
					tot.weight += s.Weight
				}
			}
		}
		tot.status = "UP"
		if tot.act == 0 && tot.bck == 0 {
			tot.status = "DOWN"
		}
		rows = append(rows, tot)
	}
	return rows
}

const csvHeader = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,\n"

// CSV renders the statistics in the column order of HAProxy's ";csv"
// output (the first 79 columns; lbd leaves the ones it has no value for
// empty).
func (in *Instance) CSV() string {
	var b strings.Builder
	b.WriteString(csvHeader)
	pid := os.Getpid()
	for _, r := range in.statsRows() {
		u := func(v uint64) string { return strconv.FormatUint(v, 10) }
		f := make([]string, 79)
		f[0], f[1] = r.px, r.sv
		f[4], f[5], f[7], f[8], f[9] = u(r.scur), u(r.smax), u(r.stot), u(r.bin), u(r.bout)
		f[17] = r.status
		f[26] = strconv.Itoa(pid)
		f[32] = strconv.Itoa(r.typ)
		switch r.typ {
		case 0:
			f[10], f[12] = u(r.dreq), u(r.ereq)
			f[48] = u(r.reqTot)
		case 1, 2:
			f[2], f[3] = "0", "0"
			f[13], f[14], f[15], f[16] = u(r.econ), u(r.eresp), u(r.wretr), u(r.wredis)
			f[18], f[19], f[20] = strconv.Itoa(r.weight), strconv.Itoa(r.act), strconv.Itoa(r.bck)
			f[30] = u(r.lbtot)
			f[76] = r.mode
		}
		if r.typ == 0 {
			f[75] = r.mode
		}
		if r.typ == 1 {
			f[48] = u(r.reqTot)
			f[77] = r.algo
		}
		if r.typ == 2 {
			f[23] = strconv.FormatInt(r.lastchg, 10)
			f[73], f[74] = r.addr, r.cookie
			if r.hasCheck {
				f[21], f[22] = u(r.chkfail), u(r.chkdown)
				f[36] = checkCode(r.checkStatus)
				f[38] = strconv.FormatInt(r.checkDur, 10)
				f[65] = r.checkStatus
				f[67], f[68], f[69] = strconv.Itoa(r.rise), strconv.Itoa(r.fall), strconv.Itoa(r.health)
			}
		}
		for i := 0; i < 6; i++ {
			f[39+i] = u(r.hrsp[i])
		}
		b.WriteString(strings.Join(f[:76], ","))
		b.WriteString(",")
		if r.typ == 2 || r.typ == 1 {
			b.WriteString(strings.Join(f[76:], ","))
		} else {
			b.WriteString(",,")
		}
		b.WriteString(",\n")
	}
	return b.String()
}

// checkCode abbreviates a check reason as the stats page does.
func checkCode(reason string) string {
	switch {
	case reason == "":
		return ""
	case strings.HasPrefix(reason, "Layer4 check passed"):
		return "L4OK"
	case strings.HasPrefix(reason, "Layer4 timeout"):
		return "L4TOUT"
	case strings.HasPrefix(reason, "Layer4"):
		return "L4CON"
	case strings.HasPrefix(reason, "Layer7 check passed"):
		return "L7OK"
	case strings.HasPrefix(reason, "Layer7 timeout"):
		return "L7TOUT"
	case strings.HasPrefix(reason, "Layer7 wrong status"):
		return "L7STS"
	default:
		return "L7RSP"
	}
}

// serveStats answers the stats URI: ";csv" gives CSV, anything else a
// plain HTML table of the same data.
func (c *clientConn) serveStats(tx *txn, bw *bufio.Writer, keep bool) bool {
	in := c.fe.in
	if st := c.fe.Cfg.Stats; st != nil && len(st.Auth) > 0 && !checkBasicAuth(tx.req, st.Auth) {
		body := "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
		fmt.Fprintf(bw, "HTTP/1.1 401 Unauthorized\r\ncontent-length: %d\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nwww-authenticate: Basic realm=%q\r\n\r\n%s",
			len(body), st.Realm, body)
		return keep
	}
	var body, ctype string
	if strings.Contains(tx.req.URI, ";csv") {
		body, ctype = in.CSV(), "text/plain"
	} else {
		body, ctype = in.statsHTML(), "text/html"
	}
	writeSimple(bw, 200, "OK", ctype, body, keep)
	return keep
}

func (in *Instance) statsHTML() string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><title>Statistics Report for lbd</title></head><body>\n<h1>Statistics Report for lbd (haproxy-compatible)</h1>\n")
	fmt.Fprintf(&b, "<p>pid = %d, uptime = %s</p>\n<table border=1>\n<tr><th>proxy</th><th>name</th><th>status</th><th>weight</th><th>act</th><th>bck</th><th>cur</th><th>max</th><th>total</th><th>bytes in</th><th>bytes out</th><th>conn err</th><th>resp err</th><th>retries</th><th>redisp</th><th>chk fail</th><th>chk down</th><th>last chk</th><th>2xx</th><th>5xx</th></tr>\n",
		os.Getpid(), time.Since(in.start).Round(time.Second))
	for _, r := range in.statsRows() {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td><td>%d</td><td>%d</td></tr>\n",
			html.EscapeString(r.px), html.EscapeString(r.sv), html.EscapeString(r.status), r.weight, r.act, r.bck,
			r.scur, r.smax, r.stot, r.bin, r.bout, r.econ, r.eresp, r.wretr, r.wredis, r.chkfail, r.chkdown,
			html.EscapeString(r.checkStatus), r.hrsp[1], r.hrsp[4])
	}
	b.WriteString("</table>\n</body></html>\n")
	return b.String()
}

// writeSimple writes (without flushing) a complete response generated by
// lbd itself.
func writeSimple(bw *bufio.Writer, code int, reason, ctype, body string, keep bool) {
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\ncache-control: no-cache\r\ncontent-type: %s\r\ncontent-length: %d\r\n", code, reason, ctype, len(body))
	if !keep {
		bw.WriteString("connection: close\r\n")
	}
	bw.WriteString("\r\n")
	bw.WriteString(body)
}
