package idp

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	osinv1 "github.com/openshift/api/osin/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RequestHeader trusts an authenticating proxy: the proxy logs the person in and forwards the
// request with the user in headers. Headers count only on requests that present a client
// certificate signed by clientCA (and, when clientCommonNames is set, with one of those common
// names): anyone else could set them. The OAuth server's TLS listener must therefore ask for client
// certificates (tls.RequestClientCert or VerifyClientCertIfGiven); RequestHeader verifies the
// presented chain itself.
type RequestHeader struct {
	providerName  string
	clientCA      *x509.CertPool
	commonNames   []string
	headers       []string
	preferredName []string
	name          []string
	email         []string
}

var _ RequestAuthenticator = (*RequestHeader)(nil)

func buildRequestHeader(_ context.Context, p *Provider, obj runtime.Object, fld *field.Path) field.ErrorList {
	cfg := obj.(*osinv1.RequestHeaderIdentityProvider)
	pf := fld.Child("provider")
	var errs field.ErrorList
	r := &RequestHeader{
		providerName:  p.Name,
		commonNames:   cfg.ClientCommonNames,
		headers:       cfg.Headers,
		preferredName: cfg.PreferredUsernameHeaders,
		name:          cfg.NameHeaders,
		email:         cfg.EmailHeaders,
	}
	if cfg.ClientCA == "" {
		errs = append(errs, field.Required(pf.Child("clientCA"), "must name the CA bundle that signs the authenticating proxy's client certificate; without it anyone could send the headers"))
	} else if pool, err := loadCA(cfg.ClientCA); err != nil {
		errs = append(errs, field.Invalid(pf.Child("clientCA"), cfg.ClientCA, err.Error()))
	} else {
		r.clientCA = pool
	}
	if len(cfg.Headers) == 0 {
		errs = append(errs, field.Required(pf.Child("headers"), "must list the headers that carry the user's login name (for example X-Remote-User)"))
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"headers", cfg.Headers}, {"preferredUsernameHeaders", cfg.PreferredUsernameHeaders}, {"nameHeaders", cfg.NameHeaders}, {"emailHeaders", cfg.EmailHeaders}} {
		for i, h := range l.list {
			if strings.TrimSpace(h) == "" || strings.ContainsAny(h, " :\r\n") {
				errs = append(errs, field.Invalid(pf.Child(l.name).Index(i), h, "must be an HTTP header name"))
			}
		}
	}
	if p.UseAsChallenger && cfg.ChallengeURL == "" {
		errs = append(errs, field.Required(pf.Child("challengeURL"), "must be set when challenge is true: challenging clients (oc login) are sent there"))
	}
	if p.UseAsLogin && cfg.LoginURL == "" {
		errs = append(errs, field.Required(pf.Child("loginURL"), "must be set when login is true: browsers are sent there"))
	}
	for _, t := range [][2]string{{"challengeURL", cfg.ChallengeURL}, {"loginURL", cfg.LoginURL}} {
		name, u := t[0], t[1]
		if u == "" {
			continue
		}
		parsed, err := url.Parse(ExpandRedirectURL(u, &url.URL{Scheme: "https", Host: "example.com", Path: "/oauth/authorize", RawQuery: "a=b"}))
		if err != nil || !parsed.IsAbs() || parsed.Host == "" {
			errs = append(errs, field.Invalid(pf.Child(name), u, "must be an absolute URL; ${url} and ${query} are replaced by the escaped URL and the query of the request"))
		}
	}
	p.Request, p.ChallengeURL, p.LoginURL = r, cfg.ChallengeURL, cfg.LoginURL
	return errs
}

// ExpandRedirectURL fills a request-header challengeURL or loginURL template for the request URL
// requestURL: ${url} becomes the whole URL, escaped for a query parameter, and ${query} its raw query.
func ExpandRedirectURL(template string, requestURL *url.URL) string {
	return strings.NewReplacer("${url}", url.QueryEscape(requestURL.String()), "${query}", requestURL.RawQuery).Replace(template)
}

// AuthenticateRequest returns the identity the proxy put in the headers. ok is false when the
// request carries no user header, or carries one without any client certificate. A client
// certificate that clientCA did not sign, or whose common name is not allowed, is an error.
func (r *RequestHeader) AuthenticateRequest(req *http.Request) (*Identity, bool, error) {
	user := firstHeader(req, r.headers)
	if user == "" {
		return nil, false, nil
	}
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	certs := req.TLS.PeerCertificates
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         r.clientCA,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, false, fmt.Errorf("identity provider %q: the client certificate %q is not trusted by clientCA, so the identity headers are refused: %w", r.providerName, certs[0].Subject.CommonName, err)
	}
	if len(r.commonNames) > 0 && !slices.Contains(r.commonNames, certs[0].Subject.CommonName) {
		return nil, false, fmt.Errorf("identity provider %q: the client certificate's common name %q is not one of clientCommonNames %v, so the identity headers are refused", r.providerName, certs[0].Subject.CommonName, r.commonNames)
	}
	return &Identity{
		ProviderName:      r.providerName,
		ProviderUserName:  user,
		PreferredUserName: firstHeader(req, r.preferredName),
		Name:              firstHeader(req, r.name),
		Email:             firstHeader(req, r.email),
	}, true, nil
}

// firstHeader returns the first non-empty value of the named headers.
func firstHeader(req *http.Request, names []string) string {
	for _, h := range names {
		if v := strings.TrimSpace(req.Header.Get(h)); v != "" {
			return v
		}
	}
	return ""
}
