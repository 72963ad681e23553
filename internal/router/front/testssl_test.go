package front

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testsslFinding is one entry of testssl.sh's JSON output.
type testsslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
}

// TestTestssl runs testssl.sh (Debian package testssl.sh, installed by
// hack/install-deps.sh) against the HTTPS port with an unknown server name:
// protocols, cipher categories and the server's certificate. It is skipped
// when testssl is missing, except in CI.
func TestTestssl(t *testing.T) {
	if testing.Short() {
		t.Skip("testssl takes a while; not in -short")
	}
	bin, err := exec.LookPath("testssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("testssl is not installed. Try: make deps (hack/install-deps.sh installs testssl.sh)")
		}
		t.Skip("testssl is not installed. Try: make deps")
	}
	tf := startFront(t, Config{DefaultCertificate: defaultCert(t)})
	_, port, _ := net.SplitHostPort(tf.httpsAddr)
	out := filepath.Join(t.TempDir(), "testssl.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// -p protocols, -s cipher categories, -S server defaults (the
	// certificate). --ip keeps testssl off DNS and sends the URI's
	// name as SNI: a name no route has.
	cmd := exec.CommandContext(ctx, bin, "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
		"--ip", "127.0.0.1", "--jsonfile", out, "-p", "-s", "-S",
		"unknown.example.com:"+port)
	cmd.Env = append(os.Environ(), "TERM=dumb")
	start := time.Now()
	combined, err := cmd.CombinedOutput()
	t.Logf("testssl ran %v", time.Since(start).Round(time.Second))
	if ctx.Err() != nil {
		t.Fatalf("testssl did not finish: %v\n%s", ctx.Err(), combined)
	}
	raw, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("testssl wrote no JSON (%v, exit %v):\n%s", rerr, err, combined)
	}
	var findings []testsslFinding
	if err := json.Unmarshal(raw, &findings); err != nil {
		t.Fatalf("testssl JSON: %v", err)
	}
	byID := map[string]testsslFinding{}
	for _, f := range findings {
		byID[f.ID] = f
	}
	expect := func(id, want string) {
		t.Helper()
		f, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("testssl reported no %s", id)
		case !strings.Contains(f.Finding, want), want == "offered" && strings.Contains(f.Finding, "not offered"):
			t.Errorf("%s: %q, want %q", id, f.Finding, want)
		default:
			t.Logf("%s: %s", id, f.Finding)
		}
	}
	for _, p := range []string{"SSLv2", "SSLv3", "TLS1", "TLS1_1"} {
		expect(p, "not offered")
	}
	expect("TLS1_2", "offered")
	expect("TLS1_3", "offered")
	for _, c := range []string{"cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"} {
		expect(c, "not offered")
	}
	expect("cipherlist_STRONG", "offered")
	expect("cert_commonName", "router-default.local")
	for _, f := range findings {
		if (f.Severity == "HIGH" || f.Severity == "CRITICAL") && !strings.HasPrefix(f.ID, "cert_") && f.ID != "scanProblem" {
			t.Errorf("testssl %s finding %s: %s", f.Severity, f.ID, f.Finding)
		}
	}
}
