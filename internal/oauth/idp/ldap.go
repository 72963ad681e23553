package idp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	osinv1 "github.com/openshift/api/osin/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// LDAP checks passwords against an LDAP directory by search and bind, as OpenShift 3 does:
//
//  1. connect (ldaps://, or ldap:// upgraded with StartTLS unless insecure is true);
//  2. bind as bindDN with bindPassword, or search anonymously when no bindDN is given;
//  3. search the URL's base DN and scope with (&<URL filter>(<URL attribute>=<user name>)), the user
//     name escaped (RFC 4515) so that `*` or `)(uid=*` match only themselves;
//  4. exactly one entry must match: none means a wrong login, several are an error;
//  5. bind as that entry's DN with the password. An empty password is refused before any of
//     this, because LDAP treats a bind with an empty password as an anonymous bind that succeeds.
//
// The identity is the first non-empty value of attributes.id ("dn" means the entry's DN), and the
// preferred user name, name and email come from the other attribute lists.
type LDAP struct {
	providerName string
	url          ldapURL
	bindDN       string
	bindPassword string
	insecure     bool
	tlsConfig    *tls.Config
	attributes   osinv1.LDAPAttributeMapping
}

var _ PasswordAuthenticator = (*LDAP)(nil)

const (
	ldapDialTimeout    = 10 * time.Second
	ldapRequestTimeout = 30 * time.Second
)

// ldapURL is an RFC 2255 URL: ldap[s]://host:port/basedn?attribute?scope?filter.
type ldapURL struct {
	scheme, host, baseDN, attribute, filter string
	scope                                   int
}

func (u ldapURL) dialURL() string { return u.scheme + "://" + u.host }

// parseLDAPURL reads an RFC 2255 URL. The attribute defaults to uid, the scope to sub and the
// filter to (objectClass=*).
func parseLDAPURL(s string) (ldapURL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return ldapURL{}, err
	}
	out := ldapURL{scheme: u.Scheme, attribute: "uid", scope: ldap.ScopeWholeSubtree, filter: "(objectClass=*)"}
	port := ""
	switch u.Scheme {
	case "ldap":
		port = "389"
	case "ldaps":
		port = "636"
	default:
		return ldapURL{}, errors.New("the scheme must be ldap:// or ldaps://")
	}
	if u.Host == "" || u.Hostname() == "" {
		return ldapURL{}, errors.New("must name the LDAP server: ldap://host:port/basedn?attribute?scope?filter")
	}
	if u.User != nil || u.Fragment != "" {
		return ldapURL{}, errors.New("may not hold user:password@ or a #fragment; use bindDN and bindPassword")
	}
	out.host = u.Host
	if u.Port() == "" {
		out.host = net.JoinHostPort(u.Hostname(), port)
	}
	out.baseDN = strings.TrimPrefix(u.Path, "/")
	if u.RawQuery == "" {
		return out, nil
	}
	parts := strings.Split(u.RawQuery, "?")
	for i := range parts {
		if parts[i], err = url.PathUnescape(parts[i]); err != nil {
			return ldapURL{}, err
		}
	}
	if len(parts) > 3 && parts[3] != "" {
		return ldapURL{}, fmt.Errorf("extensions (%q) are not supported", parts[3])
	}
	if a := parts[0]; a != "" {
		if strings.Contains(a, ",") {
			return ldapURL{}, fmt.Errorf("give only one attribute to match the user name against, not %q", a)
		}
		out.attribute = a
	}
	if len(parts) > 1 {
		switch parts[1] {
		case "", "sub":
		case "one":
			out.scope = ldap.ScopeSingleLevel
		case "base":
			out.scope = ldap.ScopeBaseObject
		default:
			return ldapURL{}, fmt.Errorf("scope %q must be base, one or sub", parts[1])
		}
	}
	if len(parts) > 2 && parts[2] != "" {
		f := parts[2]
		if !strings.HasPrefix(f, "(") {
			f = "(" + f + ")"
		}
		if _, err := ldap.CompileFilter(f); err != nil {
			return ldapURL{}, fmt.Errorf("filter %q: %v", parts[2], err)
		}
		out.filter = f
	}
	return out, nil
}

func buildLDAP(_ context.Context, p *Provider, obj runtime.Object, fld *field.Path) field.ErrorList {
	cfg := obj.(*osinv1.LDAPPasswordIdentityProvider)
	pf := fld.Child("provider")
	var errs field.ErrorList
	l := &LDAP{providerName: p.Name, bindDN: cfg.BindDN, insecure: cfg.Insecure, attributes: cfg.Attributes}
	if cfg.URL == "" {
		errs = append(errs, field.Required(pf.Child("url"), "must be an RFC 2255 URL: ldap://host:port/basedn?attribute?scope?filter"))
	} else if u, err := parseLDAPURL(cfg.URL); err != nil {
		errs = append(errs, field.Invalid(pf.Child("url"), cfg.URL, err.Error()))
	} else {
		l.url = u
		if cfg.Insecure && u.scheme == "ldaps" {
			errs = append(errs, field.Invalid(pf.Child("insecure"), true, "cannot be true with an ldaps:// URL"))
		}
		l.tlsConfig = &tls.Config{ServerName: hostOnly(u.host), MinVersion: tls.VersionTLS12}
	}
	if cfg.Insecure && cfg.CA != "" {
		errs = append(errs, field.Invalid(pf.Child("ca"), cfg.CA, "cannot be given with insecure: true, which connects without TLS"))
	}
	if cfg.CA != "" && l.tlsConfig != nil {
		if pool, err := loadCA(cfg.CA); err != nil {
			errs = append(errs, field.Invalid(pf.Child("ca"), cfg.CA, err.Error()))
		} else {
			l.tlsConfig.RootCAs = pool
		}
	}
	pw, err := ResolveStringSource(cfg.BindPassword)
	if err != nil {
		errs = append(errs, field.Invalid(pf.Child("bindPassword"), "", err.Error()))
	}
	l.bindPassword = pw
	switch {
	case cfg.BindDN != "" && pw == "" && err == nil:
		errs = append(errs, field.Required(pf.Child("bindPassword"), "must be given with bindDN"))
	case cfg.BindDN == "" && pw != "":
		errs = append(errs, field.Required(pf.Child("bindDN"), "must be given with bindPassword"))
	}
	if len(cfg.Attributes.ID) == 0 {
		errs = append(errs, field.Required(pf.Child("attributes", "id"), `must list the attributes that identify a user (for example [dn])`))
	}
	p.Password = l
	return errs
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// connect opens a connection, with TLS unless insecure, closed when ctx ends.
func (l *LDAP) connect(ctx context.Context) (*ldap.Conn, func(), error) {
	dialer := &net.Dialer{Timeout: ldapDialTimeout}
	opts := []ldap.DialOpt{ldap.DialWithDialer(dialer)}
	if l.url.scheme == "ldaps" {
		opts = append(opts, ldap.DialWithTLSConfig(l.tlsConfig))
	}
	conn, err := ldap.DialURL(l.url.dialURL(), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", l.url.dialURL(), err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	closeConn := func() { stop(); conn.Close() }
	conn.SetTimeout(ldapRequestTimeout)
	if l.url.scheme == "ldap" && !l.insecure {
		if err := conn.StartTLS(l.tlsConfig); err != nil {
			closeConn()
			return nil, nil, fmt.Errorf("StartTLS with %s (set insecure: true only for a server without TLS): %w", l.url.dialURL(), err)
		}
	}
	return conn, closeConn, nil
}

// searchAttributes are the attributes to fetch; "dn" is not an attribute.
func (l *LDAP) searchAttributes() []string {
	var attrs []string
	for _, list := range [][]string{l.attributes.ID, l.attributes.PreferredUsername, l.attributes.Name, l.attributes.Email} {
		for _, a := range list {
			if !strings.EqualFold(a, "dn") {
				attrs = append(attrs, a)
			}
		}
	}
	if len(attrs) == 0 {
		return []string{"1.1"} // RFC 4511: no attributes
	}
	return attrs
}

// AuthenticatePassword searches the user's entry and binds as it with password.
func (l *LDAP) AuthenticatePassword(ctx context.Context, username, password string) (*Identity, bool, error) {
	if username == "" || password == "" {
		return nil, false, nil
	}
	conn, closeConn, err := l.connect(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("identity provider %q: %w", l.providerName, err)
	}
	defer closeConn()
	if l.bindDN != "" {
		if err := conn.Bind(l.bindDN, l.bindPassword); err != nil {
			return nil, false, fmt.Errorf("identity provider %q: bind as bindDN %q to search for users: %w", l.providerName, l.bindDN, err)
		}
	}
	filter := fmt.Sprintf("(&%s(%s=%s))", l.url.filter, l.url.attribute, ldap.EscapeFilter(username))
	req := ldap.NewSearchRequest(l.url.baseDN, l.url.scope, ldap.NeverDerefAliases, 2, int(ldapRequestTimeout/time.Second), false, filter, l.searchAttributes(), nil)
	res, err := conn.Search(req)
	switch {
	case err == nil:
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && res != nil && len(res.Entries) > 1:
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		who := "anonymous clients"
		if l.bindDN != "" {
			who = l.bindDN
		}
		return nil, false, fmt.Errorf("identity provider %q: the directory does not let %s search %q: give bindDN and bindPassword of an account that may: %w", l.providerName, who, l.url.baseDN, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, false, fmt.Errorf("identity provider %q: search base %q does not exist on %s", l.providerName, l.url.baseDN, l.url.dialURL())
	default:
		return nil, false, fmt.Errorf("identity provider %q: search %s for %s: %w", l.providerName, l.url.baseDN, filter, err)
	}
	switch len(res.Entries) {
	case 0:
		return nil, false, nil
	case 1:
	default:
		return nil, false, fmt.Errorf("identity provider %q: several entries match %s under %q (%s, ...); make the URL's attribute or filter select one entry per user", l.providerName, filter, l.url.baseDN, res.Entries[0].DN)
	}
	entry := res.Entries[0]
	if entry.DN == "" {
		return nil, false, fmt.Errorf("identity provider %q: the entry matching %s has an empty DN", l.providerName, filter)
	}
	if err := conn.Bind(entry.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("identity provider %q: bind as %q: %w", l.providerName, entry.DN, err)
	}
	id := ldapAttribute(entry, l.attributes.ID)
	if id == "" {
		return nil, false, fmt.Errorf("identity provider %q: entry %q has none of the id attributes %v", l.providerName, entry.DN, l.attributes.ID)
	}
	return &Identity{
		ProviderName:      l.providerName,
		ProviderUserName:  id,
		PreferredUserName: ldapAttribute(entry, l.attributes.PreferredUsername),
		Name:              ldapAttribute(entry, l.attributes.Name),
		Email:             ldapAttribute(entry, l.attributes.Email),
	}, true, nil
}

// ldapAttribute returns the first non-empty value of the named attributes; "dn" is the entry's DN.
func ldapAttribute(e *ldap.Entry, names []string) string {
	for _, n := range names {
		if strings.EqualFold(n, "dn") {
			if e.DN != "" {
				return e.DN
			}
			continue
		}
		for _, v := range e.GetEqualFoldAttributeValues(n) {
			if v != "" {
				return v
			}
		}
	}
	return ""
}
