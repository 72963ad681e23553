package router

import (
	"strings"
	"testing"
)

func TestEnvironmentGivesDefaultsAndFlagsWin(t *testing.T) {
	env := map[string]string{
		"ROUTER_SERVICE_NAME": "shard-a", "ROUTER_SERVICE_HTTP_PORT": "8080", "ROUTER_SERVICE_HTTPS_PORT": "8443",
		"ROUTE_LABELS": "shard=a", "NAMESPACE_LABELS": "team=x", "ROUTER_ALLOW_WILDCARD_ROUTES": "true",
		"ROUTER_SUBDOMAIN": "apps.example.com", "STATS_PORT": "0",
	}
	cmd := NewCommand()
	if err := cmd.Flags().Parse([]string{"--http-port", "9090"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(cmd.Flags(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	f := cmd.Flags()
	for flag, want := range map[string]string{
		"name": "shard-a", "http-port": "9090", "https-port": "8443", "route-selector": "shard=a",
		"namespace-selector": "team=x", "allow-wildcard-routes": "true", "subdomain": "apps.example.com", "stats-port": "0",
		"bind": "0.0.0.0", "backend": "gantry",
	} {
		if got := f.Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
}

func TestBadEnvironmentValueNamesTheVariable(t *testing.T) {
	cmd := NewCommand()
	err := applyEnv(cmd.Flags(), func(k string) (string, bool) {
		if k == "ROUTER_SERVICE_HTTPS_PORT" {
			return "https", true
		}
		return "", false
	})
	if err == nil || !strings.Contains(err.Error(), "ROUTER_SERVICE_HTTPS_PORT") || !strings.Contains(err.Error(), "Try:") {
		t.Errorf("applyEnv = %v, want an error naming the variable with a hint", err)
	}
}

func TestConfigRefusesBadOptions(t *testing.T) {
	good := Options{Name: "default", Bind: "127.0.0.1", HTTPPort: 80, HTTPSPort: 443, StatsPort: 1936, Backend: "gantry", Kubeconfig: "/nonexistent"}
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"bind", func(o *Options) { o.Bind = "localhost:80" }, "--bind"},
		{"port", func(o *Options) { o.HTTPPort = 70000 }, "--http-port 70000 is not a port"},
		{"same ports", func(o *Options) { o.StatsPort = 443 }, "must differ"},
		{"selector", func(o *Options) { o.NamespaceSelector = "a in (" }, "namespace selector"},
		{"name", func(o *Options) { o.Name = "" }, "router name is required"},
		{"certificate", func(o *Options) { o.DefaultCertificate = "/nonexistent.pem" }, "default certificate"},
		{"kubeconfig", func(o *Options) {}, "cluster configuration"},
	} {
		o := good
		tc.change(&o)
		if _, err := o.Config(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Config = %v, want an error about %s", tc.name, err, tc.want)
		}
	}
}
