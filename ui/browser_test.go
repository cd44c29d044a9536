package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"halab/lab"
	"halab/reports"
)

// keepalivedConf is the article's keepalived.conf for nginx01/nginx02,
// tracking a script that always succeeds (no nginx runs in this test).
const keepalivedConf = `global_defs {
  router_id %s
}
vrrp_script chk_nginx {
  script "/bin/true"
  interval 1
  weight 2
}
vrrp_instance VI_1 {
  interface eth0
  state %s
  virtual_router_id 51
  priority %d
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass 1111
  }
  virtual_ipaddress {
    10.0.1.100
  }
  track_script {
    chk_nginx
  }
}
`

// findChromium returns the browser to drive, or "" when none is installed.
func findChromium() string {
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactDir is where the screenshot goes: $HALAB_ARTIFACTS when set
// (kept after the test), else a temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("HALAB_ARTIFACTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// TestBrowserFailover opens the page in headless Chromium on the simple lab
// with vrrpd on nginx01 and nginx02, kills the master's vrrpd from the
// page and waits for the page to show the VIP on nginx02.
func TestBrowserFailover(t *testing.T) {
	requireLab(t)
	chromium := findChromium()
	if chromium == "" {
		t.Skip("Chromium is not installed (apt-get install chromium; `make deps` does it): browser test skipped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	l := upSimple(t, ctx, "ui2")
	for i, node := range []string{"nginx01", "nginx02"} {
		state, prio := "MASTER", 101
		if i == 1 {
			state, prio = "BACKUP", 100
		}
		conf := filepath.Join(l.SharedDir(), node+"-keepalived.conf")
		require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, keepalivedConf, node, state, prio), 0o644))
		_, err := l.MustNode(node).Start(ctx, lab.ProcSpec{Name: "vrrpd",
			Args: []string{filepath.Join(binDir, "vrrpd"), "-n", "-l", "-D", "-f", conf, "-p", "/run/vrrpd.pid"}})
		require.NoError(t, err)
	}

	s, err := Serve(ctx, l, Options{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.Join(s.State().VIPs["10.0.1.100"], ",") == "nginx01"
	}, 15*time.Second, 50*time.Millisecond, "nginx01 never became master")

	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1400),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer bcancel()

	// holders reads which nodes the page shows holding the VIP.
	const holdersJS = `Array.from(document.querySelectorAll('#topology .node')).filter(g => (g.dataset.vips || '').split(',').includes('10.0.1.100')).map(g => g.dataset.node).join(',')`
	waitHolders := func(want string, within time.Duration) time.Duration {
		start := time.Now()
		var got string
		for time.Since(start) < within {
			v, err := chromedp.Run(bctx, chromedp.Evaluate[string](holdersJS))
			require.NoError(t, err)
			got = v
			if slices.Contains(strings.Split(got, ","), want) {
				return time.Since(start)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("page shows the VIP on %q, want it on %s after %s", got, want, within)
		return 0
	}

	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(s.URL()),
		chromedp.WaitVisible(chromedp.CSS(`#node-nginx01`)),
	))
	waitHolders("nginx01", 5*time.Second)
	// The traffic strip and the timeline colour apps alike.
	for _, app := range []string{"app01", "app02", "nginx02"} {
		col, err := chromedp.Run(bctx, chromedp.Evaluate[string](fmt.Sprintf("colorOf(%q)", app)))
		require.NoError(t, err)
		require.Equal(t, reports.AppColor(app), col, app)
	}
	vrrp, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(`#node-nginx01`), "data-vrrp"))
	require.NoError(t, err)
	require.Equal(t, "MASTER", vrrp.Value)

	// Select nginx01 on the drawing, pick its vrrpd and kill it.
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#node-nginx01 rect.box`)),
		chromedp.SetValue(chromedp.CSS(`#act-daemon`), "vrrpd"),
		chromedp.Click(chromedp.CSS(`#act-kill`)),
		chromedp.WaitVisible(chromedp.CSS(`#act-result.ok`)),
	))
	result, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#act-result`)))
	require.NoError(t, err)
	require.Equal(t, "kill vrrpd on nginx01", result)

	// nginx02 takes the VIP once the master-down interval (3 x 1 s + skew)
	// has passed; nginx01 may keep it too (a SIGKILLed VRRP daemon removes
	// nothing) or lose it (keepalived's VRRP child stops gracefully when its
	// parent dies).
	took := waitHolders("nginx02", 10*time.Second)
	t.Logf("page showed the VIP on nginx02 %s after the kill", took.Round(time.Millisecond))
	vrrp, err = chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(`#node-nginx02`), "data-vrrp"))
	require.NoError(t, err)
	require.Equal(t, "MASTER", vrrp.Value)

	// The timeline shows the fault; then keep a screenshot.
	_, err = chromedp.Run(bctx, chromedp.Poll[bool](`document.querySelector('#timeline').textContent.includes('kill vrrpd on nginx01')`, chromedp.WithPollingTimeout(5*time.Second)))
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join(artifactDir(t), "ui-failover.png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}
