package idp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	osinv1 "github.com/openshift/api/osin/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantry-dev/gantry/internal/oauth/idp/idptest"
)

// headerResult is what the test server saw.
type headerResult struct {
	Identity *Identity
	OK       bool
	Err      string
}

func TestRequestHeader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	proxyCA := idptest.NewCA(t, dir)
	otherCA := idptest.NewCA(t, t.TempDir())
	_, _, proxyCert := proxyCA.Issue(t, dir, "auth-proxy", false)
	_, _, strangerCert := proxyCA.Issue(t, dir, "stranger", false)
	_, _, forgedCert := otherCA.Issue(t, t.TempDir(), "auth-proxy", false)
	_, _, serverCert := proxyCA.Issue(t, dir, "oauth-server", true)

	ps, err := New(context.Background(), []osinv1.IdentityProvider{{
		Name: "proxy", UseAsChallenger: true, UseAsLogin: true,
		Provider: runtime.RawExtension{Object: &osinv1.RequestHeaderIdentityProvider{
			ClientCA:                 proxyCA.File,
			ClientCommonNames:        []string{"auth-proxy"},
			Headers:                  []string{"X-Remote-User", "SSO-User"},
			PreferredUsernameHeaders: []string{"X-Remote-User-Login"},
			NameHeaders:              []string{"X-Remote-User-Display-Name"},
			EmailHeaders:             []string{"X-Remote-User-Email"},
			ChallengeURL:             "https://sso.example.com/challenge?${query}",
			LoginURL:                 "https://sso.example.com/login?then=${url}",
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := ps[0]
	if p.ChallengeURL != "https://sso.example.com/challenge?${query}" || p.LoginURL != "https://sso.example.com/login?then=${url}" {
		t.Errorf("challenge/login URLs %q %q", p.ChallengeURL, p.LoginURL)
	}

	// A real TLS server that asks for client certificates without verifying them, as the OAuth
	// server's listener does.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok, err := p.Request.AuthenticateRequest(r)
		res := headerResult{Identity: id, OK: ok}
		if err != nil {
			res.Err = err.Error()
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, Certificates: []tls.Certificate{serverCert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(proxyCA.Cert)

	call := func(t *testing.T, cert *tls.Certificate, headers map[string]string) headerResult {
		t.Helper()
		tlsConfig := &tls.Config{RootCAs: roots}
		if cert != nil {
			tlsConfig.Certificates = []tls.Certificate{*cert}
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}
		req, _ := http.NewRequest("GET", srv.URL+"/oauth/authorize", nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var res headerResult
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
			t.Fatal(err)
		}
		return res
	}

	all := map[string]string{
		"SSO-User": "alice-sso", "X-Remote-User-Login": "alice", "X-Remote-User-Display-Name": "Alice Liddell",
		"X-Remote-User-Email": "alice@example.com",
	}
	tests := []struct {
		name    string
		cert    *tls.Certificate
		headers map[string]string
		want    *Identity
		wantErr string
	}{
		{name: "trusted proxy, second user header", cert: &proxyCert, headers: all,
			want: &Identity{ProviderName: "proxy", ProviderUserName: "alice-sso", PreferredUserName: "alice", Name: "Alice Liddell", Email: "alice@example.com"}},
		{name: "first non-empty user header wins", cert: &proxyCert, headers: map[string]string{"X-Remote-User": "bob", "SSO-User": "alice-sso"},
			want: &Identity{ProviderName: "proxy", ProviderUserName: "bob"}},
		{name: "no user header", cert: &proxyCert, headers: map[string]string{"X-Remote-User-Login": "alice"}},
		{name: "headers without a client certificate are ignored", headers: all},
		{name: "certificate from another CA", cert: &forgedCert, headers: all, wantErr: "not trusted by clientCA"},
		{name: "certificate with another common name", cert: &strangerCert, headers: all, wantErr: `common name "stranger" is not one of clientCommonNames`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, tc.cert, tc.headers)
			switch {
			case tc.wantErr != "":
				if res.OK || res.Identity != nil || !strings.Contains(res.Err, tc.wantErr) {
					t.Errorf("got %+v, want an error saying %q", res, tc.wantErr)
				}
			case tc.want == nil:
				if res.OK || res.Identity != nil || res.Err != "" {
					t.Errorf("got %+v, want no identity and no error", res)
				}
			default:
				if !res.OK || res.Err != "" || res.Identity == nil || *res.Identity != *tc.want {
					t.Errorf("got %+v (identity %+v), want %+v", res, res.Identity, tc.want)
				}
			}
		})
	}
}

func TestExpandRedirectURL(t *testing.T) {
	t.Parallel()
	u, _ := url.Parse("https://gantry.example.com:8444/oauth/authorize?client_id=openshift-challenging-client&response_type=token")
	if got, want := ExpandRedirectURL("https://sso/login?then=${url}", u), "https://sso/login?then="+url.QueryEscape(u.String()); got != want {
		t.Errorf("${url}: %q, want %q", got, want)
	}
	if got, want := ExpandRedirectURL("https://sso/oauth/authorize?${query}", u), "https://sso/oauth/authorize?client_id=openshift-challenging-client&response_type=token"; got != want {
		t.Errorf("${query}: %q, want %q", got, want)
	}
}

func TestRequestHeaderConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := New(context.Background(), []osinv1.IdentityProvider{{
		Name: "proxy", UseAsChallenger: true, UseAsLogin: true,
		Provider: runtime.RawExtension{Object: &osinv1.RequestHeaderIdentityProvider{Headers: []string{"X-Remote-User", "bad header"}}},
	}, {
		Name:     "proxy2",
		Provider: runtime.RawExtension{Object: &osinv1.RequestHeaderIdentityProvider{ClientCA: "/nonexistent.crt", LoginURL: "/relative?${url}"}},
	}})
	for _, want := range []string{
		"identityProviders[proxy].provider.clientCA: Required", "identityProviders[proxy].provider.headers[1]",
		"identityProviders[proxy].provider.challengeURL: Required", "identityProviders[proxy].provider.loginURL: Required",
		"identityProviders[proxy2].provider.clientCA: Invalid value", "identityProviders[proxy2].provider.headers: Required",
		"identityProviders[proxy2].provider.loginURL: Invalid value",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\ndoes not say %q", err, want)
		}
	}
}
