package dns

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestUpstreamsFromResolvConf(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "resolv.conf")
	conf := "# generated\nsearch example.com\nnameserver 10.0.0.1\nnameserver 127.0.0.53\nnameserver fd00::1\noptions ndots:5\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		exclude []string
		want    []string
	}{
		{"all", nil, []string{"10.0.0.1:53", "127.0.0.53:53", "[fd00::1]:53"}},
		{"excluding the listen address", []string{"10.0.0.1"}, []string{"127.0.0.53:53", "[fd00::1]:53"}},
		{"excluding an IPv6 address", []string{"fd00:0::1", "not an IP"}, []string{"10.0.0.1:53", "127.0.0.53:53"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := UpstreamsFromResolvConf(path, tc.exclude...)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("UpstreamsFromResolvConf = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestUpstreamsFromResolvConfMissing(t *testing.T) {
	t.Parallel()
	if _, err := UpstreamsFromResolvConf(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("no error for a missing file")
	}
}
