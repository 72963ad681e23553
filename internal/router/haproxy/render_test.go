package haproxy

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func testOptions(t testing.TB, mode MapMode) Options {
	t.Helper()
	o := Options{Dir: t.TempDir(), BindAddress: "127.0.0.1", HTTPPort: 18080, HTTPSPort: 18443, StatsPort: 18936, MapMode: mode, Binary: "/bin/true"}
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// fixedSlots gives every service the slots its endpoints need, in steps.
func fixedSlots(step int) slotsFunc {
	return func(_, _ string, n int) int { return max(step, (n+step-1)/step*step) }
}

// renderFixture renders the fixture table and writes its files.
func renderFixture(t *testing.T, mode MapMode) (*view, string) {
	t.Helper()
	o := testOptions(t, mode)
	def, err := selfSignedDefault()
	if err != nil {
		t.Fatal(err)
	}
	defPEM, err := certificatePEM(def)
	if err != nil {
		t.Fatal(err)
	}
	v, err := newView(o, table(t, fixtureRoutes(t), fixtureEndpoints()), defPEM, fixedSlots(o.SlotStep))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := v.render(false)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.writeFiles(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(o.path("haproxy.cfg"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return v, string(cfg)
}

// haproxyBinary is Debian's haproxy, or the test is skipped.
func haproxyBinary(t testing.TB) string {
	p, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("GANTRY_REQUIRE_HAPROXY") != "" {
			t.Fatalf("haproxy is not installed (apt-get install -y haproxy): %v", err)
		}
		t.Skip("haproxy is not installed (hack/install-deps.sh installs it)")
	}
	return p
}

func TestRenderedConfigIsValidForHAProxy(t *testing.T) {
	bin := haproxyBinary(t)
	for _, mode := range []MapMode{MapRegex, MapExact} {
		t.Run(string(mode), func(t *testing.T) {
			v, cfg := renderFixture(t, mode)
			out, err := exec.Command(bin, "-c", "-f", v.Opt.path("haproxy.cfg")).CombinedOutput()
			if err != nil || strings.Contains(string(out), "WARNING") {
				t.Fatalf("haproxy -c: %v\n%s\nconfig:\n%s", err, out, cfg)
			}
		})
	}
}
