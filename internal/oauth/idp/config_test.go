package idp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	configv1 "github.com/openshift/api/config/v1"
	osinv1 "github.com/openshift/api/osin/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantry-dev/gantry/internal/oauth/idp/idptest"
)

// masterConfig is the oauthConfig stanza of an OpenShift 3.2 master-config.yaml, inside the rest
// of such a file.
const masterConfig = `apiVersion: v1
kind: MasterConfig
kubernetesMasterConfig:
  apiServerArguments: {}
oauthConfig:
  assetPublicURL: https://master.example.com:8443/console/
  grantConfig:
    method: auto
  identityProviders:
  - name: my_htpasswd_provider
    challenge: true
    login: true
    mappingMethod: claim
    provider:
      apiVersion: v1
      kind: HTPasswdPasswordIdentityProvider
      file: users.htpasswd
  - name: dev
    challenge: true
    login: true
    mappingMethod: generate
    provider:
      apiVersion: osin.config.openshift.io/v1
      kind: AllowAllPasswordIdentityProvider
  - name: closed
    challenge: true
    login: true
    provider:
      apiVersion: v1
      kind: DenyAllPasswordIdentityProvider
  masterCA: ca.crt
  masterPublicURL: https://master.example.com:8443
  masterURL: https://master.example.com:8443
  sessionConfig:
    sessionMaxAgeSeconds: 300
    sessionName: ssn
    sessionSecretsFile: session-secrets.yaml
  tokenConfig:
    accessTokenMaxAgeSeconds: 86400
    authorizeTokenMaxAgeSeconds: 300
`

func TestLoadConfigMasterConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := WriteHTPasswd(filepath.Join(dir, "users.htpasswd"), "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "master-config.yaml")
	writeFile(t, file, masterConfig)
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TokenConfig.AccessTokenMaxAgeSeconds != 86400 || cfg.GrantConfig.Method != osinv1.GrantHandlerAuto || cfg.MasterPublicURL != "https://master.example.com:8443" {
		t.Errorf("oauthConfig fields not read: %+v", cfg)
	}
	if *cfg.MasterCA != filepath.Join(dir, "ca.crt") || cfg.SessionConfig.SessionSecretsFile != filepath.Join(dir, "session-secrets.yaml") {
		t.Errorf("relative files not resolved against %s: masterCA %q, session secrets %q", dir, *cfg.MasterCA, cfg.SessionConfig.SessionSecretsFile)
	}
	if got := cfg.IdentityProviders[0].Provider.Object.(*osinv1.HTPasswdPasswordIdentityProvider).File; got != filepath.Join(dir, "users.htpasswd") {
		t.Errorf("htpasswd file %q, want it resolved against the config's directory", got)
	}

	// Working directory elsewhere: the resolved path still finds the file.
	ps, err := New(context.Background(), cfg.IdentityProviders)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, method string
		kind         any
	}{{"my_htpasswd_provider", MappingClaim, &HTPasswd{}}, {"dev", MappingGenerate, &AllowAll{}}, {"closed", MappingClaim, DenyAll{}}}
	if len(ps) != len(want) {
		t.Fatalf("%d providers, want %d", len(ps), len(want))
	}
	for i, w := range want {
		p := ps[i]
		if p.Name != w.name || p.MappingMethod != w.method || !p.UseAsChallenger || !p.UseAsLogin || p.Password == nil || p.Request != nil || p.Redirect != nil {
			t.Errorf("provider %d: %+v, want %s with mapping %s and a password authenticator", i, p, w.name, w.method)
		}
		if got, wantT := fmt.Sprintf("%T", p.Password), fmt.Sprintf("%T", w.kind); got != wantT {
			t.Errorf("provider %s is a %s, want %s", p.Name, got, wantT)
		}
	}
	if _, ok, err := ps[0].Password.AuthenticatePassword(context.Background(), "alice", "pw"); !ok || err != nil {
		t.Errorf("htpasswd login: ok=%v err=%v", ok, err)
	}
}

func TestLoadConfigBareOAuthConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "oauth.yaml")
	writeFile(t, file, `identityProviders:
- name: anypassword
  challenge: true
  login: true
  provider:
    apiVersion: v1
    kind: AllowAllPasswordIdentityProvider
tokenConfig:
  accessTokenMaxAgeSeconds: 3600
`)
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.IdentityProviders) != 1 || cfg.TokenConfig.AccessTokenMaxAgeSeconds != 3600 {
		t.Errorf("read %+v", cfg)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		want          []string
	}{
		{"not YAML", "identityProviders: [", []string{"not valid YAML"}},
		{"not a mapping", "- a\n- b\n", []string{"must be a YAML mapping"}},
		{"typo in oauthConfig", "oauthConfig:\n  identityProvider: []\n", []string{`unknown field "identityProvider"`}},
		{"typo in a provider", `identityProviders:
- name: local
  provider: {apiVersion: v1, kind: HTPasswdPasswordIdentityProvider, fiel: users.htpasswd}
`, []string{"identityProviders[local].provider", `unknown field "fiel"`}},
		{"unknown and unsupported kinds", `identityProviders:
- name: a
  provider: {apiVersion: v1, kind: KerberosIdentityProvider}
- name: b
  provider: {apiVersion: v1, kind: GitHubIdentityProvider, clientID: x}
- name: c
  provider: {apiVersion: v2, kind: AllowAllPasswordIdentityProvider}
- name: d
  provider: {apiVersion: v1}
`, []string{
			`identityProviders[a].provider.kind: Invalid value: "KerberosIdentityProvider": unknown identity provider kind; use one of AllowAllPasswordIdentityProvider, DenyAllPasswordIdentityProvider, HTPasswdPasswordIdentityProvider, LDAPPasswordIdentityProvider, OpenIDIdentityProvider, RequestHeaderIdentityProvider`,
			`identityProviders[b].provider.kind: Invalid value: "GitHubIdentityProvider": Gantry has no GitHub identity provider`,
			`identityProviders[c].provider.apiVersion: Unsupported value: "v2"`,
			`identityProviders[d].provider.kind: Required`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "oauth.yaml")
			writeFile(t, file, tc.content)
			_, err := LoadConfig(file)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v\ndoes not say %q", err, w)
				}
			}
		})
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func allowAll() runtime.RawExtension {
	return runtime.RawExtension{Object: &osinv1.AllowAllPasswordIdentityProvider{}}
}

func TestNewValidatesEveryProvider(t *testing.T) {
	t.Parallel()
	_, err := New(context.Background(), []osinv1.IdentityProvider{
		{Name: "dup", Provider: allowAll()},
		{Name: "dup", Provider: allowAll()},
		{Name: "", Provider: allowAll()},
		{Name: "git:hub", Provider: allowAll()},
		{Name: "odd", MappingMethod: "merge", Provider: allowAll()},
		{Name: "files", Provider: runtime.RawExtension{Object: &osinv1.HTPasswdPasswordIdentityProvider{File: "/nonexistent/htpasswd"}}},
		{Name: "nofile", Provider: runtime.RawExtension{Object: &osinv1.HTPasswdPasswordIdentityProvider{}}},
		{Name: "empty"},
	})
	var cerr *ConfigError
	if !errors.As(err, &cerr) {
		t.Fatalf("error %v is not a ConfigError", err)
	}
	for _, want := range []string{
		`identityProviders[1].name: Duplicate value: "dup"`,
		"identityProviders[2].name: Required",
		`identityProviders[git:hub].name: Invalid value: "git:hub": may not contain ":"`,
		`identityProviders[odd].mappingMethod: Unsupported value: "merge": supported values: "claim", "lookup", "generate", "add"`,
		`identityProviders[files].provider.file: Invalid value: "/nonexistent/htpasswd"`,
		"identityProviders[nofile].provider.file: Required",
		"identityProviders[empty].provider: Required",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%v\ndoes not say %q", err, want)
		}
	}
	if ps, err := New(context.Background(), nil); err != nil || len(ps) != 0 {
		t.Errorf("no providers: %v %v", ps, err)
	}
}

func TestResolveStringSource(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	writeFile(t, file, "  from-file\n")
	t.Setenv("IDP_TEST_SECRET", "from-env")
	tests := []struct {
		in      configv1.StringSourceSpec
		want    string
		wantErr string
	}{
		{in: configv1.StringSourceSpec{Value: "inline"}, want: "inline"},
		{in: configv1.StringSourceSpec{Env: "IDP_TEST_SECRET"}, want: "from-env"},
		{in: configv1.StringSourceSpec{File: file}, want: "from-file"},
		{in: configv1.StringSourceSpec{}, want: ""},
		{in: configv1.StringSourceSpec{Env: "IDP_TEST_UNSET"}, wantErr: "IDP_TEST_UNSET is empty or unset"},
		{in: configv1.StringSourceSpec{File: file + "-missing"}, wantErr: "no such file"},
		{in: configv1.StringSourceSpec{Value: "a", Env: "IDP_TEST_SECRET"}, wantErr: "only one of"},
		{in: configv1.StringSourceSpec{Value: "a", KeyFile: "k"}, wantErr: "keyFile"},
	}
	for _, tc := range tests {
		got, err := ResolveStringSource(configv1.StringSource{StringSourceSpec: tc.in})
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%+v: %q, %v; want an error saying %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestAllowAllAndDenyAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := NewAllowAll("dev")
	id, ok, err := a.AuthenticatePassword(ctx, "Bob Smith", "anything")
	if !ok || err != nil || *id != (Identity{ProviderName: "dev", ProviderUserName: "Bob Smith", PreferredUserName: "Bob Smith"}) {
		t.Errorf("allow-all: %+v %v %v", id, ok, err)
	}
	for _, c := range [][2]string{{"", "pw"}, {"  ", "pw"}, {"bob", ""}} {
		if _, ok, err := a.AuthenticatePassword(ctx, c[0], c[1]); ok || err != nil {
			t.Errorf("allow-all accepted %q/%q (err %v)", c[0], c[1], err)
		}
	}
	if _, ok, err := (DenyAll{}).AuthenticatePassword(ctx, "alice", "pw"); ok || err != nil {
		t.Errorf("deny-all: ok=%v err=%v", ok, err)
	}
}

func TestNewRefusesMixingRedirectingAndPasswordChallengers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := idptest.NewCA(t, dir).File
	proxy := func(name string) osinv1.IdentityProvider {
		return osinv1.IdentityProvider{Name: name, UseAsChallenger: true, Provider: runtime.RawExtension{Object: &osinv1.RequestHeaderIdentityProvider{
			ChallengeURL: "https://proxy.example.com/challenge?${query}", ClientCA: ca, Headers: []string{"X-Remote-User"}}}}
	}
	_, err := New(context.Background(), []osinv1.IdentityProvider{
		{Name: "local", UseAsChallenger: true, Provider: allowAll()}, proxy("proxy"),
	})
	if err == nil || !strings.Contains(err.Error(), "cannot mix providers that redirect clients asking for challenges (proxy) with providers that challenge them for a password (local)") {
		t.Errorf("password and redirecting challengers together: %v", err)
	}
	_, err = New(context.Background(), []osinv1.IdentityProvider{proxy("p1"), proxy("p2")})
	if err == nil || !strings.Contains(err.Error(), "only one identity provider may send challenging clients") {
		t.Errorf("two redirecting challengers: %v", err)
	}
	// A proxy for browsers only beside password challengers is fine.
	p := proxy("proxy")
	p.UseAsChallenger, p.UseAsLogin = false, true
	p.Provider.Object.(*osinv1.RequestHeaderIdentityProvider).LoginURL = "https://proxy.example.com/login?${query}"
	if _, err := New(context.Background(), []osinv1.IdentityProvider{{Name: "local", UseAsChallenger: true, Provider: allowAll()}, p}); err != nil {
		t.Errorf("browser-only proxy beside a password challenger: %v", err)
	}
}
