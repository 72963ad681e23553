package registry

import (
	"net/http"
	"testing"
)

// `oc adm prune images` checks the registry before pruning with GET / (then GET /healthz, what the
// OpenShift 3 registry answered): without a 200 it stops with "failed to ping registry".
func TestHealthForPruneClients(t *testing.T) {
	addr, _ := start(t, t.TempDir())
	for _, path := range []string{"/", "/healthz"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
		}
	}
}
