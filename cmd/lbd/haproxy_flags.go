package main

import (
	"fmt"
	"strconv"
)

// hapFlags is haproxy's command line as lbd reads it.
type hapFlags struct {
	files      []string
	foreground bool // -db
	daemon     bool // -D
	check      bool // -c
	quiet      bool // -q
	verbose    bool // -V
	pidFile    string
	finish     []int // -sf: soft-stop these after start
	terminate  []int // -st: stop these after start
	version    bool
}

// parseHAProxyFlags reads haproxy's options. -sf and -st take every
// following numeric argument, as haproxy does.
func parseHAProxyFlags(args []string) (*hapFlags, error) {
	o := &hapFlags{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("option '%s' requires an argument", a)
			}
			i++
			return args[i], nil
		}
		switch a {
		case "-f":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.files = append(o.files, v)
		case "-db", "-d":
			o.foreground = true
		case "-D":
			o.daemon = true
		case "-c":
			o.check = true
		case "-q":
			o.quiet = true
		case "-V":
			o.verbose = true
		case "-v", "-vv":
			o.version = true
		case "-W", "-Ws", "-S", "-n", "-N", "-dr", "-dV", "-dW", "-de", "-dp", "-dS", "-dM", "-dG", "-ds", "-dk":
			// Accepted; master-worker and tuning switches have no
			// effect in lbd (see lbd/DIFFERENCES.md).
		case "-L", "-x", "-C":
			if _, err := next(); err != nil {
				return nil, err
			}
		case "-p":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.pidFile = v
		case "-sf", "-st":
			n := 0
			for i+1 < len(args) {
				pid, err := strconv.Atoi(args[i+1])
				if err != nil {
					break
				}
				i++
				n++
				if a == "-sf" {
					o.finish = append(o.finish, pid)
				} else {
					o.terminate = append(o.terminate, pid)
				}
			}
		default:
			if len(a) > 2 && a[:2] == "-f" {
				o.files = append(o.files, a[2:])
				continue
			}
			return nil, fmt.Errorf("unknown option '%s'", a)
		}
	}
	return o, nil
}
