package imageimport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		host    string
		want    bool
	}{
		{"registry.example.com", "registry.example.com", true},
		{"registry.example.com", "REGISTRY.example.com", true},
		{"registry.example.com", "registry.example.com:443", true},
		{"registry.example.com", "registry.example.com:80", true},
		{"registry.example.com", "registry.example.com:5000", false},
		{"registry.example.com:5000", "registry.example.com:5000", true},
		{"registry.example.com:5000", "registry.example.com", false},
		{"registry.example.com:443", "registry.example.com", true},
		{"registry.example.com:*", "registry.example.com:1234", true},
		{"*.example.com", "registry.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "evilexample.com", false},
		{"*.example.com", "registry.example.com.evil.net", false},
		{"registry.*.example.com", "registry.eu.west.example.com", true},
		{"*", "anything.at.all", true},
		{"127.0.0.1:*", "127.0.0.1:5000", true},
		{"127.0.0.1:*", "127.0.0.2:5000", false},
		{"[::1]:5000", "[::1]:5000", true},
		{"[::1]:*", "[::1]:1", true},
		{"docker.io", "index.docker.io", true},
		{"docker.io", "registry-1.docker.io", true},
		{"docker.io", "docker.io.evil.net", false},
	} {
		p, err := newPolicy([]string{tc.pattern}, nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		if got := p.listed(tc.host); got != tc.want {
			t.Errorf("pattern %q, host %q: listed = %v, want %v", tc.pattern, tc.host, got, tc.want)
		}
	}
}

func TestBadPatterns(t *testing.T) {
	for _, bad := range []string{"", " ", "registry.example.com/team", "reg*.example.com", "a..b", "host:", "host:http", "::1", "[::1", "[nope]:5000", "[::1]x"} {
		if _, err := newPolicy([]string{bad}, nil); err == nil {
			t.Errorf("pattern %q accepted", bad)
		} else if !strings.Contains(err.Error(), "allowed registries for import") {
			t.Errorf("pattern %q: error %q does not name the setting", bad, err)
		}
	}
}

func TestInternalAddresses(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":               "loopback",
		"127.1.2.3":               "loopback",
		"::1":                     "loopback",
		"::ffff:127.0.0.1":        "loopback",
		"0.0.0.0":                 "unspecified",
		"::":                      "unspecified",
		"0.1.2.3":                 "unspecified",
		"169.254.169.254":         "metadata",
		"fd00:ec2::254":           "metadata",
		"169.254.1.1":             "link-local",
		"fe80::1":                 "link-local",
		"10.1.2.3":                "private",
		"172.16.0.1":              "private",
		"172.31.255.255":          "private",
		"192.168.1.1":             "private",
		"fd12:3456::1":            "private",
		"100.64.0.1":              "carrier-grade NAT",
		"100.127.255.254":         "carrier-grade NAT",
		"224.0.0.1":               "multicast",
		"ff02::1":                 "multicast",
		"255.255.255.255":         "reserved",
		"64:ff9b::a9fe:a9fe":      "metadata",
		"64:ff9b::7f00:1":         "loopback",
		"8.8.8.8":                 "",
		"172.32.0.1":              "",
		"100.128.0.1":             "",
		"2606:4700:4700::1111":    "",
		"64:ff9b::808:808":        "",
		"::ffff:93.184.216.34":    "",
		"2001:db8:85a3::8a2e:370": "",
	} {
		got := internalAddress(netip.MustParseAddr(addr))
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

func TestCheckRegistry(t *testing.T) {
	open, _ := newPolicy(nil, []string{"image-registry.gantry.svc:5000"})
	for host, want := range map[string]string{
		"registry.example.com":           "",
		"docker.io":                      "",
		"127.0.0.1:5000":                 "loopback",
		"169.254.169.254":                "metadata",
		"[fd00:ec2::254]":                "metadata",
		"10.0.0.1:5000":                  "private",
		"image-registry.gantry.svc:5000": "integrated registry",
	} {
		err := open.checkRegistry(host)
		if want == "" {
			if err != nil {
				t.Errorf("%s refused: %v", host, err)
			}
			continue
		}
		var refused *RefusedError
		if !errors.As(err, &refused) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--allowed-registries-for-import") || !strings.Contains(err.Error(), host) {
			t.Errorf("%s: %v, want a refusal naming %q, the host and the setting", host, err, want)
		}
	}

	listed, _ := newPolicy([]string{"127.0.0.1:5000", "*.corp.example"}, []string{"127.0.0.1:5000"})
	for host, ok := range map[string]bool{
		"127.0.0.1:5000":       true, // listed explicitly, even though it is the integrated registry
		"hub.corp.example":     true,
		"registry.example.com": false, // a public registry, but not on the list
		"127.0.0.1:5001":       false,
	} {
		err := listed.checkRegistry(host)
		if (err == nil) != ok {
			t.Errorf("allow-list, %s: %v", host, err)
		}
		if err != nil && !strings.Contains(err.Error(), "not on the allow-list (127.0.0.1:5000, *.corp.example)") {
			t.Errorf("allow-list refusal of %s does not show the list: %v", host, err)
		}
	}
}

// TestDialRefusesResolvedAddresses dials a name resolving to loopback: refused when connecting,
// though the name itself is not an internal address.
func TestDialRefusesResolvedAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	open, _ := newPolicy(nil, nil)
	dial := open.dialContext(&net.Dialer{})
	_, err = dial(ctx, "tcp", "localhost:"+port)
	var refused *RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "resolves to a loopback address") {
		t.Fatalf("dial localhost: %v, want a loopback refusal", err)
	}

	listed, _ := newPolicy([]string{"localhost:" + port}, nil)
	c, err := listed.dialContext(&net.Dialer{})(ctx, "tcp", "localhost:"+port)
	if err != nil {
		t.Fatalf("dial of a listed host: %v", err)
	}
	c.Close()

	integrated, _ := newPolicy(nil, []string{"registry.internal:5000"})
	if _, err := integrated.dialContext(&net.Dialer{})(ctx, "tcp", "registry.internal:5000"); !errors.As(err, &refused) {
		t.Errorf("dial of the integrated registry: %v", err)
	}
}
