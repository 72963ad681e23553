// Command echo is the application image of the integration tests: `echo serve` answers HTTP with the
// pod's name; `echo get URL...` resolves each URL's host, fetches it and prints the body, retrying for a
// while so that a pod started before its service's endpoints are ready still succeeds.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: echo serve [ADDR] | echo get URL...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		addr := ":8080"
		if len(os.Args) > 2 {
			addr = os.Args[2]
		}
		host, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s\n", host) })
		if err := http.ListenAndServe(addr, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "get":
		for _, u := range os.Args[2:] {
			if err := get(u); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	default:
		os.Exit(2)
	}
}

func get(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	var last error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		addrs, err := net.LookupHost(u.Hostname())
		if err != nil {
			last = fmt.Errorf("resolve %s: %w", u.Hostname(), err)
			continue
		}
		fmt.Printf("resolved %s to %v\n", u.Hostname(), addrs)
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(raw)
		if err != nil {
			last = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(string(body))
		return nil
	}
	return last
}
