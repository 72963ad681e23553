package haproxy

import (
	"strings"
	"testing"
)

// section returns the lines of one backend of a rendered config.
func section(t *testing.T, cfg, header string) string {
	t.Helper()
	i := strings.Index(cfg, "\n"+header+"\n")
	if i < 0 {
		t.Fatalf("no %q in the config:\n%s", header, cfg)
	}
	rest := cfg[i+len(header)+2:]
	if j := strings.Index(rest, "\n\n"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func wantLines(t *testing.T, where, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, l) {
			t.Errorf("%s: missing %q in:\n%s", where, l, text)
		}
	}
}

func TestRenderedBackendsCarryTheRoutesOptions(t *testing.T) {
	v, cfg := renderFixture(t, MapRegex)
	api := section(t, cfg, "backend be_http:shop:api")
	wantLines(t, "api", api, "balance roundrobin", "timeout server 90000ms",
		"acl allowlist src 192.168.1.10/32 10.0.0.0/8", "tcp-request content reject if !allowlist",
		"cookie shop_api insert indirect nocache httponly\n",
		"server api:0:0 10.1.0.3:8080 weight 256 cookie ", "server api:0:3 127.0.0.1:1 weight 0 disabled cookie ")
	if strings.Count(api, "\n  server ") != 4 {
		t.Errorf("api: want 4 server slots (SlotStep), got:\n%s", api)
	}
	static := section(t, cfg, "backend be_http:shop:static")
	if strings.Contains(static, "cookie ") {
		t.Errorf("disable_cookies: the static backend still sets a cookie:\n%s", static)
	}
	wantLines(t, "static", static, "balance leastconn")
	canary := section(t, cfg, "backend be_http:shop:canary")
	// Weights 10 (one endpoint) and 30 (three): every endpoint 10, so all
	// get the same server weight.
	wantLines(t, "canary", canary, "canary:0:0 10.1.0.5:8080 weight 256", "canary-b:1:2 10.1.0.8:8080 weight 256",
		"tcp-request content reject if { sc2_conn_cur ge 10 }", "http-request deny deny_status 429 if { sc2_http_req_rate ge 100 }")
	edge := section(t, cfg, "backend be_edge_http:bank:edge")
	wantLines(t, "edge", edge, `http-response set-header Strict-Transport-Security "max-age=31536000"`,
		"insert indirect nocache httponly secure attr SameSite=None")
	re := section(t, cfg, "backend be_secure:bank:re")
	wantLines(t, "reencrypt", re, "ssl verify required ca-file "+v.Opt.path("cacerts/bank:re.pem")+" verifyhost re.bank.svc")
	pt := section(t, cfg, "backend be_tcp:bank:pt")
	wantLines(t, "passthrough", pt, "mode tcp", "balance source", "server pt:0:0 10.2.0.4:8080 weight 256")
	if strings.Contains(pt, "cookie") || strings.Contains(pt, "X-Forwarded") {
		t.Errorf("passthrough backend has HTTP settings:\n%s", pt)
	}

	// The regex map: most specific path first within a host, the
	// wildcard after the exact hosts.
	http := string(mapText(v.Maps[mapHTTP]))
	wantLines(t, "os_http_be.map", http,
		`^www\.example\.com\.?(:[0-9]+)?/static/.*$ be_http:shop:static`,
		`^www\.example\.com\.?(:[0-9]+)?/api(/.*)?$ be_http:shop:api`,
		`^www\.example\.com\.?(:[0-9]+)?(/.*)?$ be_http:shop:web`,
		`^open\.example\.com\.?(:[0-9]+)?(/.*)?$ be_edge_http:bank:allow`,
		`^[^.]+\.apps\.example\.com\.?(:[0-9]+)?(/.*)?$ be_http:wild:any`)
	if strings.Index(http, "/api(") > strings.Index(http, `www\.example\.com\.?(:[0-9]+)?(/.*)?$`) {
		t.Errorf("the /api route comes after the host's catch-all route:\n%s", http)
	}
	if strings.Index(http, "wild:any") < strings.Index(http, "shop:web") {
		t.Errorf("the wildcard route comes before exact hosts:\n%s", http)
	}
	if strings.Contains(http, "bank:edge") || strings.Contains(http, "bank:re") {
		t.Errorf("TLS routes without insecure Allow are served over plain HTTP:\n%s", http)
	}
	wantLines(t, "redirect map", string(mapText(v.Maps[mapRedirect])), `^secure\.example\.com\.?(:[0-9]+)?(/.*)?$ be_edge_http:bank:edge`)
	wantLines(t, "tcp map", string(mapText(v.Maps[mapTCP])), `^pass\.example\.com$ be_tcp:bank:pt`)
	wantLines(t, "crt-list", string(v.Files[crtList]), v.Opt.path("certs/bank:edge.pem")+" [alpn h2,http/1.1] secure.example.com\n")
	if strings.Contains(string(v.Files[crtList]), "bank:re") {
		t.Error("a route without a certificate is in the crt-list")
	}
}

func TestExactMapsSplitExactAndPrefixKeys(t *testing.T) {
	v, cfg := renderFixture(t, MapExact)
	wantLines(t, "exact http map", string(mapText(v.Maps[exactMap(mapHTTP)])), "www.example.com/api be_http:shop:api\n")
	beg := string(mapText(v.Maps[prefixMap(mapHTTP)]))
	wantLines(t, "prefix http map", beg, "www.example.com/api/ be_http:shop:api\n", "www.example.com/static/ be_http:shop:static\n",
		"www.example.com/ be_http:shop:web\n", "*.apps.example.com/ be_http:wild:any\n")
	if strings.Contains(beg, "www.example.com/api ") {
		t.Error("the prefix map has /api without a slash: it would serve /apis")
	}
	wantLines(t, "exact tcp map", string(mapText(v.Maps[exactMap(mapTCP)])), "pass.example.com be_tcp:bank:pt\n")
	wantLines(t, "public frontend", section(t, cfg, "frontend public"), "map_str(", "map_beg(", "regsub(^[^.]*,*)")
	if strings.Contains(cfg, "map_reg") {
		t.Error("exact mode uses a regex map")
	}
}

func TestStructuralRenderLeavesOutRuntimeState(t *testing.T) {
	o := testOptions(t, MapExact)
	a := table(t, fixtureRoutes(t)[:1], map[string][]string{"shop/web": {"10.0.0.1"}})
	b := table(t, fixtureRoutes(t)[:1], map[string][]string{"shop/web": {"10.0.0.9", "10.0.0.8"}})
	render := func(tab any) (string, string) {
		v, err := newView(o, a, nil, fixedSlots(4))
		if tab != nil {
			v, err = newView(o, b, nil, fixedSlots(4))
		}
		if err != nil {
			t.Fatal(err)
		}
		s, _ := v.render(true)
		f, _ := v.render(false)
		return string(s), string(f)
	}
	sa, fa := render(nil)
	sb, fb := render(1)
	if sa != sb {
		t.Errorf("structural configs differ for an endpoint change:\n%s\n---\n%s", sa, sb)
	}
	if fa == fb || !strings.Contains(fb, "10.0.0.8:8080") {
		t.Error("the full config does not carry the endpoints")
	}
	if strings.Contains(sa, "10.0.0.1") {
		t.Error("the structural config carries an endpoint address")
	}
}
