package idp

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	configv1 "github.com/openshift/api/config/v1"
	osinv1 "github.com/openshift/api/osin/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantry-dev/gantry/internal/oauth/idp/idptest"
)

// people is the directory of the LDAP tests. "twin" has two entries, in two organizational units.
const people = `
dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=staff,dc=example,dc=com
objectClass: organizationalUnit
ou: staff

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.com
userPassword: alice-password

dn: uid=bob,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Builder
displayName: Bob the Builder
userPassword: bob-password

dn: uid=twin,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: twin
cn: Twin One
sn: One
userPassword: twin-password

dn: cn=twin,ou=staff,dc=example,dc=com
objectClass: inetOrgPerson
uid: twin
cn: twin
sn: Two
userPassword: twin-password
`

// ldapProvider builds an LDAP provider through New from cfg.
func ldapProvider(t *testing.T, cfg *osinv1.LDAPPasswordIdentityProvider) PasswordAuthenticator {
	t.Helper()
	ps, err := New(context.Background(), []osinv1.IdentityProvider{{Name: "corp", Provider: runtime.RawExtension{Object: cfg}}})
	if err != nil {
		t.Fatal(err)
	}
	return ps[0].Password
}

func standardAttributes() osinv1.LDAPAttributeMapping {
	return osinv1.LDAPAttributeMapping{ID: []string{"dn"}, PreferredUsername: []string{"uid"}, Name: []string{"displayName", "cn"}, Email: []string{"mail"}}
}

func TestLDAP(t *testing.T) {
	t.Parallel()
	s := idptest.StartSlapd(t, people, idptest.SlapdOptions{})
	bindPW := configv1.StringSource{StringSourceSpec: configv1.StringSourceSpec{Value: idptest.SearchPassword}}

	t.Run("password suite over StartTLS", func(t *testing.T) {
		t.Parallel()
		a := ldapProvider(t, &osinv1.LDAPPasswordIdentityProvider{
			URL: s.URL + "/ou=people,dc=example,dc=com?uid", BindDN: idptest.SearchDN, BindPassword: bindPW,
			CA: s.CA.File, Attributes: standardAttributes(),
		})
		testPasswordAuthenticator(t, a, passwordCase{
			user: "alice", password: "alice-password", unknownUser: "mallory",
			want: Identity{ProviderName: "corp", ProviderUserName: "uid=alice,ou=people,dc=example,dc=com",
				PreferredUserName: "alice", Name: "Alice Liddell", Email: "alice@example.com"},
		})
	})

	t.Run("ldaps and attribute lists", func(t *testing.T) {
		t.Parallel()
		a := ldapProvider(t, &osinv1.LDAPPasswordIdentityProvider{
			URL: s.LDAPSURL + "/dc=example,dc=com?uid?sub?(objectClass=inetOrgPerson)", BindDN: idptest.SearchDN, BindPassword: bindPW,
			CA: s.CA.File, Attributes: osinv1.LDAPAttributeMapping{ID: []string{"uid"}, Name: []string{"displayName", "cn"}, Email: []string{"mail"}},
		})
		id, ok, err := a.AuthenticatePassword(context.Background(), "bob", "bob-password")
		if err != nil || !ok {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		want := Identity{ProviderName: "corp", ProviderUserName: "bob", Name: "Bob the Builder"}
		if *id != want {
			t.Errorf("identity %+v, want %+v (name from displayName before cn, no mail, no preferred user name)", *id, want)
		}
	})

	t.Run("several entries match", func(t *testing.T) {
		t.Parallel()
		a := ldapProvider(t, &osinv1.LDAPPasswordIdentityProvider{
			URL: s.URL + "/dc=example,dc=com?uid", BindDN: idptest.SearchDN, BindPassword: bindPW, CA: s.CA.File, Attributes: standardAttributes(),
		})
		_, ok, err := a.AuthenticatePassword(context.Background(), "twin", "twin-password")
		if ok || err == nil || !strings.Contains(err.Error(), "several entries match") {
			t.Errorf("ok=%v err=%v; want an error saying several entries match", ok, err)
		}
		// A wildcard in the user name must not turn into a search matching many entries.
		if _, ok, err := a.AuthenticatePassword(context.Background(), "*", "twin-password"); ok || err != nil {
			t.Errorf("user *: ok=%v err=%v; want a plain refusal", ok, err)
		}
		// The scope narrows it to one.
		one := ldapProvider(t, &osinv1.LDAPPasswordIdentityProvider{
			URL: s.URL + "/ou=staff,dc=example,dc=com?uid?one", BindDN: idptest.SearchDN, BindPassword: bindPW, CA: s.CA.File, Attributes: standardAttributes(),
		})
		id, ok, err := one.AuthenticatePassword(context.Background(), "twin", "twin-password")
		if err != nil || !ok || id.ProviderUserName != "cn=twin,ou=staff,dc=example,dc=com" {
			t.Errorf("one-level search under ou=staff: identity %+v ok=%v err=%v", id, ok, err)
		}
	})

	t.Run("bind password from a file", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "bindpw")
		writeFile(t, file, idptest.SearchPassword+"\n")
		a := ldapProvider(t, &osinv1.LDAPPasswordIdentityProvider{
			URL: s.URL + "/ou=people,dc=example,dc=com", BindDN: idptest.SearchDN,
			BindPassword: configv1.StringSource{StringSourceSpec: configv1.StringSourceSpec{File: file}},
			CA:           s.CA.File, Attributes: standardAttributes(),
		})
		if _, ok, err := a.AuthenticatePassword(context.Background(), "alice", "alice-password"); !ok || err != nil {
			t.Errorf("ok=%v err=%v", ok, err)
		}
	})

	t.Run("wrong bind password", func(t *testing.T) {
		t.Parallel()
		a := ldapProvider(t, &osinv1.LDAPPasswordIdentityProvider{
			URL: s.URL + "/ou=people,dc=example,dc=com", BindDN: idptest.SearchDN,
			BindPassword: configv1.StringSource{StringSourceSpec: configv1.StringSourceSpec{Value: "nope"}},
			CA:           s.CA.File, Attributes: standardAttributes(),
		})
		_, ok, err := a.AuthenticatePassword(context.Background(), "alice", "alice-password")
		if ok || err == nil || !strings.Contains(err.Error(), "bind as bindDN") {
			t.Errorf("ok=%v err=%v; want an error about the search bind", ok, err)
		}
	})

	t.Run("anonymous search is refused by this directory", func(t *testing.T) {
		t.Parallel()
		a := ldapProvider(t, &osinv1.LDAPPasswordIdentityProvider{
			URL: s.URL + "/ou=people,dc=example,dc=com", CA: s.CA.File, Attributes: standardAttributes(),
		})
		// The ACL refuses anonymous searches: the error says what to configure.
		_, ok, err := a.AuthenticatePassword(context.Background(), "alice", "alice-password")
		if ok || err == nil || !strings.Contains(err.Error(), "give bindDN and bindPassword") {
			t.Errorf("ok=%v err=%v; want an error saying to give bindDN and bindPassword", ok, err)
		}
	})

	t.Run("untrusted server certificate", func(t *testing.T) {
		t.Parallel()
		a := ldapProvider(t, &osinv1.LDAPPasswordIdentityProvider{
			URL: s.URL + "/ou=people,dc=example,dc=com", BindDN: idptest.SearchDN, BindPassword: bindPW, Attributes: standardAttributes(),
		})
		_, ok, err := a.AuthenticatePassword(context.Background(), "alice", "alice-password")
		if ok || err == nil || !strings.Contains(err.Error(), "StartTLS") {
			t.Errorf("ok=%v err=%v; want a StartTLS certificate error", ok, err)
		}
	})

	t.Run("insecure", func(t *testing.T) {
		t.Parallel()
		a := ldapProvider(t, &osinv1.LDAPPasswordIdentityProvider{
			URL: s.URL + "/ou=people,dc=example,dc=com", Insecure: true, BindDN: idptest.SearchDN, BindPassword: bindPW, Attributes: standardAttributes(),
		})
		if _, ok, err := a.AuthenticatePassword(context.Background(), "alice", "alice-password"); !ok || err != nil {
			t.Errorf("ok=%v err=%v", ok, err)
		}
	})
}

func TestLDAPAnonymousSearch(t *testing.T) {
	t.Parallel()
	s := idptest.StartSlapd(t, people, idptest.SlapdOptions{AnonymousSearch: true})
	a := ldapProvider(t, &osinv1.LDAPPasswordIdentityProvider{URL: s.LDAPSURL + "/ou=people,dc=example,dc=com?uid", CA: s.CA.File, Attributes: standardAttributes()})
	testPasswordAuthenticator(t, a, passwordCase{
		user: "alice", password: "alice-password", unknownUser: "mallory",
		want: Identity{ProviderName: "corp", ProviderUserName: "uid=alice,ou=people,dc=example,dc=com",
			PreferredUserName: "alice", Name: "Alice Liddell", Email: "alice@example.com"},
	})
	// Without the escaping, "*" would match every entry of ou=people.
	if _, ok, err := a.AuthenticatePassword(context.Background(), "*", "alice-password"); ok || err != nil {
		t.Errorf("user *: ok=%v err=%v", ok, err)
	}
	// Only the entry's own password binds: bob's password is not alice's.
	if _, ok, err := a.AuthenticatePassword(context.Background(), "alice", "bob-password"); ok || err != nil {
		t.Errorf("another user's password: ok=%v err=%v", ok, err)
	}
}

func TestParseLDAPURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    ldapURL
		wantErr string
	}{
		{in: "ldap://ldap.example.com/dc=example,dc=com", want: ldapURL{scheme: "ldap", host: "ldap.example.com:389", baseDN: "dc=example,dc=com", attribute: "uid", scope: ldap.ScopeWholeSubtree, filter: "(objectClass=*)"}},
		{in: "ldaps://ldap.example.com/ou=users,dc=acme,dc=com?mail?one?(enabled=true)", want: ldapURL{scheme: "ldaps", host: "ldap.example.com:636", baseDN: "ou=users,dc=acme,dc=com", attribute: "mail", scope: ldap.ScopeSingleLevel, filter: "(enabled=true)"}},
		{in: "ldap://10.0.0.1:1389/o=x??base?objectClass=person", want: ldapURL{scheme: "ldap", host: "10.0.0.1:1389", baseDN: "o=x", attribute: "uid", scope: ldap.ScopeBaseObject, filter: "(objectClass=person)"}},
		{in: "ldap://h/dc=a%20b?uid?sub?(cn=a%20b)", want: ldapURL{scheme: "ldap", host: "h:389", baseDN: "dc=a b", attribute: "uid", scope: ldap.ScopeWholeSubtree, filter: "(cn=a b)"}},
		{in: "http://h/dc=a", wantErr: "ldap:// or ldaps://"},
		{in: "ldap:///dc=a", wantErr: "must name the LDAP server"},
		{in: "ldap://h/dc=a?uid,mail", wantErr: "only one attribute"},
		{in: "ldap://h/dc=a?uid?deep", wantErr: "base, one or sub"},
		{in: "ldap://h/dc=a?uid?sub?(objectClass=*", wantErr: "filter"},
		{in: "ldap://h/dc=a?uid?sub??x-ext=1", wantErr: "extensions"},
		{in: "ldap://user:pw@h/dc=a", wantErr: "bindDN"},
	}
	for _, tc := range tests {
		got, err := parseLDAPURL(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want one saying %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestLDAPConfigErrors(t *testing.T) {
	t.Parallel()
	raw, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "LDAPPasswordIdentityProvider",
		"url": "ldaps://h/dc=a", "insecure": true, "ca": "/nonexistent/ca.crt", "bindDN": "cn=x",
		"attributes": map[string]any{},
	})
	_, err := New(context.Background(), []osinv1.IdentityProvider{{Name: "corp", Provider: runtime.RawExtension{Raw: raw}}})
	for _, want := range []string{
		"identityProviders[corp].provider.insecure", "identityProviders[corp].provider.ca", "insecure: true",
		"identityProviders[corp].provider.bindPassword: Required", "identityProviders[corp].provider.attributes.id: Required",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}
