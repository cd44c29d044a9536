// Command labapp is the lab's application server; see internal/labapp.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"halab/internal/labapp"
)

func main() {
	listen := flag.String("listen", ":80", "address to listen on")
	name := flag.String("name", "", "app name in answers (default: the hostname)")
	cookie := flag.String("cookie", "", "fixed JSESSIONID value (default: random per response)")
	flag.Parse()
	if *name == "" {
		h, err := os.Hostname()
		if err != nil {
			fmt.Fprintln(os.Stderr, "labapp:", err)
			os.Exit(1)
		}
		*name = h
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv := &http.Server{Addr: *listen, Handler: labapp.Handler(*name, *cookie), ReadHeaderTimeout: 10 * time.Second}
	log.Info("labapp listening", "addr", *listen, "app", *name)
	if err := srv.ListenAndServe(); err != nil {
		log.Error("labapp", "err", err)
		os.Exit(1)
	}
}
