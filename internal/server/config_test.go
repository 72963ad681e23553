package server_test

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gantry-dev/gantry/internal/server"
)

func cidr(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestValidateRejectsBadConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(*server.Config)
		want   []string // substrings of the error; none: valid
	}{
		{"defaults", func(*server.Config) {}, nil},
		{"loopback node IP", func(c *server.Config) { c.NodeIP = net.ParseIP("127.0.0.1") }, []string{"--node-ip", "127.0.0.1", "loopback"}},
		{"unspecified node IP", func(c *server.Config) { c.NodeIP = net.ParseIP("0.0.0.0") }, []string{"--node-ip"}},
		{"no node IP", func(c *server.Config) { c.NodeIP = nil }, []string{"--node-ip"}},
		{"empty data dir", func(c *server.Config) { c.DataDir = "" }, []string{"--data-dir"}},
		{"empty node name", func(c *server.Config) { c.NodeName = "" }, []string{"--node-name"}},
		{"pod CIDR outside cluster CIDR", func(c *server.Config) { c.PodCIDR = cidr(t, "10.0.0.0/24") },
			[]string{"--pod-cidr", "10.0.0.0/24", "--cluster-cidr", "10.128.0.0/14"}},
		{"service CIDR inside cluster CIDR", func(c *server.Config) { c.ServiceCIDR = cidr(t, "10.129.0.0/16") },
			[]string{"--service-cidr", "10.129.0.0/16", "overlaps", "--cluster-cidr"}},
		{"service CIDR around cluster CIDR", func(c *server.Config) { c.ServiceCIDR = cidr(t, "10.0.0.0/8") },
			[]string{"--service-cidr", "overlaps", "--cluster-cidr"}},
		{"node IP in service network", func(c *server.Config) { c.NodeIP = net.ParseIP("172.30.5.5") },
			[]string{"--node-ip", "172.30.5.5", "service or pod network"}},
		{"node IP in pod network", func(c *server.Config) { c.NodeIP = net.ParseIP("10.129.0.5") },
			[]string{"--node-ip", "10.129.0.5", "service or pod network"}},
		{"pod CIDR larger than cluster CIDR", func(c *server.Config) { c.PodCIDR = cidr(t, "10.128.0.0/12") },
			[]string{"--pod-cidr", "10.128.0.0/12"}},
		{"IPv6 service CIDR", func(c *server.Config) { c.ServiceCIDR = cidr(t, "fd00::/108") },
			[]string{"--service-cidr", "only IPv4"}},
		{"service CIDR too small for the DNS address", func(c *server.Config) { c.ServiceCIDR = cidr(t, "172.30.0.248/29") },
			[]string{"--service-cidr", "too small"}},
		{"registry without port", func(c *server.Config) { c.RegistryAddr = "localhost" }, []string{"--registry-addr", `"localhost"`}},
		{"registry not an address", func(c *server.Config) { c.RegistryAddr = "127.0.0.1:5000:1" }, []string{"--registry-addr"}},
		{"registry storage file missing", func(c *server.Config) { c.RegistryStorageFile = "/nonexistent/storage.yaml" },
			[]string{"--registry-storage", "/nonexistent/storage.yaml"}},
		{"registry storage of an unknown driver", func(c *server.Config) { c.RegistryStorageFile = writeFile(t, "gcs:\n  bucket: b\n") },
			[]string{"--registry-storage", `unknown storage driver "gcs"`, "s3"}},
		{"registry storage on s3", func(c *server.Config) {
			c.RegistryStorageFile = writeFile(t, "s3:\n  region: us-east-1\n  bucket: b\n")
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := server.DefaultConfig()
			cfg.DataDir = t.TempDir()
			cfg.NodeName = "test-node"
			c.change(&cfg)
			err := cfg.Validate()
			if c.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want an error mentioning %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "file.yaml")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestValidateMakesDataDirAbsolute(t *testing.T) {
	t.Parallel()
	cfg := server.DefaultConfig()
	cfg.NodeName = "test-node"
	cfg.DataDir = "relative/state"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(cfg.DataDir) || !strings.HasSuffix(cfg.DataDir, filepath.Join("relative", "state")) {
		t.Errorf("DataDir = %q, want the absolute form of relative/state", cfg.DataDir)
	}
}

func TestServiceAddresses(t *testing.T) {
	t.Parallel()
	cfg := server.DefaultConfig()
	for _, c := range []struct{ name, got, want string }{
		{"DNSIP", cfg.DNSIP().String(), "172.30.0.10"},
		{"ServiceIP(1)", cfg.ServiceIP(1).String(), "172.30.0.1"},
		{"APIServerURL", cfg.APIServerURL(), "https://10.127.0.1:6443"},
		{"PauseImage", cfg.PauseImage(), "127.0.0.1:5000/gantry/pause:dev"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	// ServiceIP must not write into the configured network.
	cfg.ServiceCIDR = cidr(t, "10.96.0.0/12")
	if got := cfg.DNSIP().String(); got != "10.96.0.10" {
		t.Errorf("DNSIP in 10.96.0.0/12 = %s, want 10.96.0.10", got)
	}
	if got := cfg.ServiceCIDR.String(); got != "10.96.0.0/12" {
		t.Errorf("ServiceIP changed ServiceCIDR to %s", got)
	}
}

func TestParseExtraArg(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, key, value string
		bad            bool
	}{
		{in: "v=4", key: "v", value: "4"},
		{in: "--v=4", key: "v", value: "4"},
		{in: "-v=4", key: "v", value: "4"},
		{in: "feature-gates=A=true", key: "feature-gates", value: "A=true"},
		{in: "profiling", key: "profiling", value: "true"},
		{in: "--profiling", key: "profiling", value: "true"},
		{in: "token-auth-file=", key: "token-auth-file", value: ""},
		{in: "=x", bad: true},
		{in: "", bad: true},
		{in: "--", bad: true},
		{in: "--=4", bad: true},
	}
	for _, c := range cases {
		k, v, err := server.ParseExtraArg(c.in)
		if c.bad {
			if err == nil || !strings.Contains(err.Error(), "is not a flag") {
				t.Errorf("ParseExtraArg(%q) = %q, %q, %v; want an error", c.in, k, v, err)
			}
			continue
		}
		if err != nil || k != c.key || v != c.value {
			t.Errorf("ParseExtraArg(%q) = %q, %q, %v; want %q, %q", c.in, k, v, err, c.key, c.value)
		}
	}
}

func TestArgsSortedAndOverridden(t *testing.T) {
	t.Parallel()
	ours := map[string]string{"b": "2", "a": "1", "c": "3"}
	cases := []struct {
		name  string
		extra map[string][]string
		want  []string
		err   string
	}{
		{"ours only, sorted", nil, []string{"--a=1", "--b=2", "--c=3"}, ""},
		{"theirs replace ours and booleans are true",
			map[string][]string{"comp": {"c=9", "--d", "a=0"}},
			[]string{"--a=0", "--b=2", "--c=9", "--d=true"}, ""},
		{"repeated keys are all passed, in order",
			map[string][]string{"comp": {"b=y", "b=x"}},
			[]string{"--a=1", "--b=y", "--b=x", "--c=3"}, ""},
		{"other components' arguments are ignored",
			map[string][]string{"other": {"a=5", "=bad"}},
			[]string{"--a=1", "--b=2", "--c=3"}, ""},
		{"malformed", map[string][]string{"comp": {"=x"}}, nil, "--comp-arg"},
	}
	for _, c := range cases {
		cfg := server.DefaultConfig()
		cfg.ExtraArgs = c.extra
		got, err := cfg.Args("comp", ours)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: Args = %v, %v; want an error mentioning %s", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: Args = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if len(ours) != 3 || ours["a"] != "1" {
		t.Errorf("Args changed the flag map: %v", ours)
	}
}

func TestPortsFollowConfig(t *testing.T) {
	t.Parallel()
	cfg := server.DefaultConfig()
	cfg.APIServerPort = 7443
	cfg.RegistryAddr = "127.0.0.1:5555"
	ports := cfg.Ports()
	for _, want := range []server.Port{
		{Component: server.KubeAPIServer, Network: "tcp", Addr: "10.127.0.1:7443"},
		{Component: "registry", Network: "tcp", Addr: "127.0.0.1:5555"},
		{Component: "dns", Network: "udp", Addr: "10.127.0.1:53"},
		{Component: "etcd", Network: "tcp", Addr: "127.0.0.1:2379"},
	} {
		if !slices.Contains(ports, want) {
			t.Errorf("Ports lacks %+v: %+v", want, ports)
		}
	}
}

func TestRouterConfig(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.DataDir = t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.RouterSuffix(), "apps.10.127.0.1.nip.io"; got != want {
		t.Errorf("default routing suffix = %q, want %q", got, want)
	}
	for _, want := range []server.Port{{Component: "router", Network: "tcp", Addr: "10.127.0.1:80"}, {Component: "router", Network: "tcp", Addr: "10.127.0.1:443"}} {
		if !slices.Contains(cfg.Ports(), want) {
			t.Errorf("Ports lacks %+v", want)
		}
	}
	off := cfg
	off.Router = false
	for _, p := range off.Ports() {
		if p.Component == "router" {
			t.Errorf("Ports has %+v with the router off", p)
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*server.Config)
		want   string
	}{
		{"bad suffix", func(c *server.Config) { c.RoutingSuffix = "Apps_Example" }, "--routing-suffix"},
		{"same ports", func(c *server.Config) { c.RouterHTTPSPort = c.RouterHTTPPort }, "two different ports"},
		{"no port", func(c *server.Config) { c.RouterHTTPPort = 0 }, "--router-http-port 0 is not a port"},
		{"bad route selector", func(c *server.Config) { c.RouterRouteSelector = "shard=(a" }, "--router-route-selector"},
	} {
		c := cfg
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want an error about %s", tc.name, err, tc.want)
		}
	}
}
