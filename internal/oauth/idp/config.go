package idp

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	configv1 "github.com/openshift/api/config/v1"
	osinv1 "github.com/openshift/api/osin/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Mapping methods (seed 004; OpenShift 3's identityProviders[].mappingMethod).
const (
	// MappingClaim creates a user named after the identity's preferred user name, and fails when that
	// user already exists without this identity. The default.
	MappingClaim = "claim"
	// MappingLookup only uses identities, users and mappings an administrator made; it creates nothing.
	MappingLookup = "lookup"
	// MappingGenerate creates a user named after the preferred user name, or name2, name3... when that
	// user exists with other identities.
	MappingGenerate = "generate"
	// MappingAdd creates the user, or adds the identity to the existing user of that name.
	MappingAdd = "add"
)

// MappingMethods lists the valid mapping methods.
var MappingMethods = []string{MappingClaim, MappingLookup, MappingGenerate, MappingAdd}

// kind is one provider kind of osin/v1: how to decode it, the paths in it that are file names
// (resolved against the configuration file's directory by LoadConfig), and how to build it.
type kind struct {
	new   func() runtime.Object
	files func(obj runtime.Object) []*string
	build func(ctx context.Context, p *Provider, obj runtime.Object, fld *field.Path) field.ErrorList
}

// kinds is the registry of supported provider kinds, by the `kind` of their `provider` stanza.
var kinds = map[string]kind{
	"HTPasswdPasswordIdentityProvider": {
		new:   func() runtime.Object { return &osinv1.HTPasswdPasswordIdentityProvider{} },
		files: func(o runtime.Object) []*string { return []*string{&o.(*osinv1.HTPasswdPasswordIdentityProvider).File} },
		build: buildHTPasswd,
	},
	"AllowAllPasswordIdentityProvider": {
		new:   func() runtime.Object { return &osinv1.AllowAllPasswordIdentityProvider{} },
		build: buildAllowAll,
	},
	"DenyAllPasswordIdentityProvider": {
		new:   func() runtime.Object { return &osinv1.DenyAllPasswordIdentityProvider{} },
		build: buildDenyAll,
	},
	"RequestHeaderIdentityProvider": {
		new: func() runtime.Object { return &osinv1.RequestHeaderIdentityProvider{} },
		files: func(o runtime.Object) []*string {
			return []*string{&o.(*osinv1.RequestHeaderIdentityProvider).ClientCA}
		},
		build: buildRequestHeader,
	},
	"LDAPPasswordIdentityProvider": {
		new: func() runtime.Object { return &osinv1.LDAPPasswordIdentityProvider{} },
		files: func(o runtime.Object) []*string {
			l := o.(*osinv1.LDAPPasswordIdentityProvider)
			return []*string{&l.CA, &l.BindPassword.File, &l.BindPassword.KeyFile}
		},
		build: buildLDAP,
	},
	"OpenIDIdentityProvider": {
		new: func() runtime.Object { return &osinv1.OpenIDIdentityProvider{} },
		files: func(o runtime.Object) []*string {
			p := o.(*osinv1.OpenIDIdentityProvider)
			return []*string{&p.CA, &p.ClientSecret.File, &p.ClientSecret.KeyFile}
		},
		build: buildOpenID,
	},
}

// unsupportedKinds are osin/v1 kinds OpenShift knows and Gantry does not build.
var unsupportedKinds = map[string]string{
	"BasicAuthPasswordIdentityProvider": "basic-auth remote servers",
	"KeystonePasswordIdentityProvider":  "Keystone",
	"GitHubIdentityProvider":            "GitHub",
	"GitLabIdentityProvider":            "GitLab",
	"GoogleIdentityProvider":            "Google",
}

func supportedKinds() string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// LoadConfig reads a YAML (or JSON) file holding the oauthConfig stanza of an OpenShift 3
// master-config.yaml: either a whole document with a top-level `oauthConfig:` key (other keys are
// ignored) or a bare OAuthConfig. Relative file names in it (htpasswd files, CA bundles, secret
// files, templates, session secrets) are resolved against the file's directory, as OpenShift does.
// The identity providers are decoded and checked for unknown fields here; New checks the rest.
func LoadConfig(file string) (*osinv1.OAuthConfig, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read OAuth configuration: %w", err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("OAuth configuration %s: %w", file, err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("OAuth configuration %s: %w", file, err)
	}
	if err := resolveConfigPaths(cfg, filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("OAuth configuration %s: %w", file, err)
	}
	return cfg, nil
}

func parseConfig(data []byte) (*osinv1.OAuthConfig, error) {
	jsonData, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(jsonData, &top); err != nil || top == nil {
		return nil, errors.New("must be a YAML mapping holding an OAuthConfig, or a master-config with an oauthConfig key")
	}
	stanza := jsonData
	if inner, ok := top["oauthConfig"]; ok {
		stanza = inner
	}
	cfg := &osinv1.OAuthConfig{}
	dec := json.NewDecoder(bytes.NewReader(stanza))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("oauthConfig: %v (the file holds either an oauthConfig: key or the fields of an osin/v1 OAuthConfig: identityProviders, tokenConfig, grantConfig, ...)", err)
	}
	return cfg, nil
}

// resolveConfigPaths makes the relative file names of cfg absolute against dir, decoding each
// provider stanza (which checks it for unknown fields) and storing it back.
func resolveConfigPaths(cfg *osinv1.OAuthConfig, dir string) error {
	resolve := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if cfg.MasterCA != nil {
		resolve(cfg.MasterCA)
	}
	if cfg.SessionConfig != nil {
		resolve(&cfg.SessionConfig.SessionSecretsFile)
	}
	if cfg.Templates != nil {
		resolve(&cfg.Templates.Login)
		resolve(&cfg.Templates.ProviderSelection)
		resolve(&cfg.Templates.Error)
	}
	var errs field.ErrorList
	for i := range cfg.IdentityProviders {
		spec := &cfg.IdentityProviders[i]
		fld := providerPath(cfg.IdentityProviders, i)
		obj, k, err := decodeProvider(spec, fld.Child("provider"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if k.files != nil {
			for _, p := range k.files(obj) {
				resolve(p)
			}
		}
		raw, jerr := json.Marshal(obj)
		if jerr != nil {
			return fmt.Errorf("%s: %w", fld, jerr)
		}
		spec.Provider = runtime.RawExtension{Raw: raw, Object: obj}
	}
	return configError(errs)
}

// providerPath names the i-th provider in messages, by its name when it has one.
func providerPath(list []osinv1.IdentityProvider, i int) *field.Path {
	base := field.NewPath("identityProviders")
	if name := list[i].Name; name != "" {
		n := 0
		for _, p := range list {
			if p.Name == name {
				n++
			}
		}
		if n == 1 {
			return base.Key(name)
		}
	}
	return base.Index(i)
}

// decodeProvider turns the provider stanza into its typed object.
func decodeProvider(spec *osinv1.IdentityProvider, fld *field.Path) (runtime.Object, kind, *field.Error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	raw := spec.Provider.Raw
	if raw == nil && spec.Provider.Object != nil {
		var err error
		if raw, err = json.Marshal(spec.Provider.Object); err != nil {
			return nil, kind{}, field.Invalid(fld, "", err.Error())
		}
		if tm.Kind = spec.Provider.Object.GetObjectKind().GroupVersionKind().Kind; tm.Kind == "" {
			// A typed object built in Go carries no kind: name it from its type.
			t := fmt.Sprintf("%T", spec.Provider.Object)
			tm.Kind = t[strings.LastIndex(t, ".")+1:]
		}
	}
	if len(raw) == 0 {
		return nil, kind{}, field.Required(fld, "must give the provider: apiVersion: v1, kind: <one of "+supportedKinds()+">, and its fields")
	}
	if err := json.Unmarshal(raw, &tm); err != nil {
		return nil, kind{}, field.Invalid(fld, "", "must be a mapping: "+err.Error())
	}
	if tm.Kind == "" {
		return nil, kind{}, field.Required(fld.Child("kind"), "must be one of "+supportedKinds())
	}
	switch tm.APIVersion {
	case "", "v1", osinv1.GroupVersion.String():
	default:
		return nil, kind{}, field.NotSupported(fld.Child("apiVersion"), tm.APIVersion, []string{"v1", osinv1.GroupVersion.String()})
	}
	k, ok := kinds[tm.Kind]
	if !ok {
		if what, known := unsupportedKinds[tm.Kind]; known {
			return nil, kind{}, field.Invalid(fld.Child("kind"), tm.Kind, "Gantry has no "+what+" identity provider; use one of "+supportedKinds())
		}
		return nil, kind{}, field.Invalid(fld.Child("kind"), tm.Kind, "unknown identity provider kind; use one of "+supportedKinds())
	}
	obj := k.new()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, kind{}, field.Invalid(fld, "", fmt.Sprintf("not a valid %s: %v", tm.Kind, err))
	}
	return obj, k, nil
}

// New builds the identity providers of cfg, in order. It checks the whole list first and reports
// every problem, each naming the provider and the field: names must be unique path segments
// without ':', mappingMethod one of MappingMethods (empty means claim), files must exist and
// parse, URLs must be valid. ctx bounds nothing at the moment: providers contact their servers only
// when a person logs in.
func New(ctx context.Context, cfg []osinv1.IdentityProvider) ([]Provider, error) {
	var errs field.ErrorList
	providers := make([]Provider, 0, len(cfg))
	seen := map[string]bool{}
	for i := range cfg {
		spec := &cfg[i]
		fld := providerPath(cfg, i)
		errs = append(errs, validateProviderName(spec.Name, fld.Child("name"))...)
		if spec.Name != "" && seen[spec.Name] {
			errs = append(errs, field.Duplicate(fld.Child("name"), spec.Name))
		}
		seen[spec.Name] = true
		p := Provider{Name: spec.Name, UseAsChallenger: spec.UseAsChallenger, UseAsLogin: spec.UseAsLogin, MappingMethod: spec.MappingMethod}
		if p.MappingMethod == "" {
			p.MappingMethod = MappingClaim
		}
		valid := false
		for _, m := range MappingMethods {
			valid = valid || m == p.MappingMethod
		}
		if !valid {
			errs = append(errs, field.NotSupported(fld.Child("mappingMethod"), spec.MappingMethod, MappingMethods))
		}
		obj, k, ferr := decodeProvider(spec, fld.Child("provider"))
		if ferr != nil {
			errs = append(errs, ferr)
			continue
		}
		errs = append(errs, k.build(ctx, &p, obj, fld)...)
		providers = append(providers, p)
	}
	errs = append(errs, validateChallengers(providers)...)
	if err := configError(errs); err != nil {
		return nil, err
	}
	return providers, nil
}

// validateChallengers refuses what OpenShift 3 refuses: a client that asks for a challenge (oc login)
// is either sent to one authenticating proxy (a request-header provider with a challengeURL) or
// challenged for a password, never both — the redirect would come before any password is asked.
func validateChallengers(providers []Provider) field.ErrorList {
	var redirecting, challenging []string
	for _, p := range providers {
		switch {
		case !p.UseAsChallenger:
		case p.Request != nil && p.ChallengeURL != "":
			redirecting = append(redirecting, p.Name)
		case p.Password != nil:
			challenging = append(challenging, p.Name)
		}
	}
	fld := field.NewPath("identityProviders")
	var errs field.ErrorList
	if len(redirecting) > 1 {
		errs = append(errs, field.Invalid(fld, strings.Join(redirecting, ", "),
			"only one identity provider may send challenging clients to a challengeURL; set challenge: false on the others"))
	}
	if len(redirecting) > 0 && len(challenging) > 0 {
		errs = append(errs, field.Invalid(fld, strings.Join(append(redirecting, challenging...), ", "),
			fmt.Sprintf("cannot mix providers that redirect clients asking for challenges (%s) with providers that challenge them for a password (%s): set challenge: false on one side",
				strings.Join(redirecting, ", "), strings.Join(challenging, ", "))))
	}
	return errs
}

// ConfigError lists everything wrong with an identity provider configuration.
type ConfigError struct{ Errs field.ErrorList }

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		lines[i] = "  " + err.Error()
	}
	return "invalid identity provider configuration:\n" + strings.Join(lines, "\n")
}

func configError(errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return &ConfigError{Errs: errs}
}

func validateProviderName(name string, fld *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fld, "must name the provider; the name is the first part of its identities' names (<name>:<user>)")}
	}
	msgs := path.ValidatePathSegmentName(name, false)
	if strings.Contains(name, ":") {
		msgs = append(msgs, `may not contain ":"; identity names are <provider name>:<user name>`)
	}
	var errs field.ErrorList
	for _, m := range msgs {
		errs = append(errs, field.Invalid(fld, name, m))
	}
	return errs
}

// ResolveStringSource returns the value of a StringSource (bindPassword, clientSecret): the inline
// value, the named environment variable, or the content of the named file (surrounding white space
// trimmed), as OpenShift does. Values encrypted with keyFile are refused.
func ResolveStringSource(s configv1.StringSource) (string, error) {
	set := 0
	for _, v := range []string{s.Value, s.Env, s.File} {
		if v != "" {
			set++
		}
	}
	switch {
	case s.KeyFile != "":
		return "", errors.New("keyFile (encrypted values) is not supported: give the value in a file readable only by Gantry (file:) or an environment variable (env:)")
	case set > 1:
		return "", errors.New("give only one of value, env and file")
	case s.Env != "":
		v := os.Getenv(s.Env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is empty or unset", s.Env)
		}
		return v, nil
	case s.File != "":
		data, err := os.ReadFile(s.File)
		if err != nil {
			return "", err
		}
		v := strings.TrimSpace(string(data))
		if v == "" {
			return "", fmt.Errorf("file %s is empty", s.File)
		}
		return v, nil
	}
	return s.Value, nil
}

// loadCA reads a PEM bundle of CA certificates.
func loadCA(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// parseHTTPSURL checks that s is an absolute https URL.
func parseHTTPSURL(s string, fld *field.Path) (*url.URL, *field.Error) {
	if s == "" {
		return nil, field.Required(fld, "must be an https:// URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, field.Invalid(fld, s, err.Error())
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, field.Invalid(fld, s, "must be an absolute https:// URL")
	}
	if u.Fragment != "" || u.User != nil {
		return nil, field.Invalid(fld, s, "may not hold a #fragment or user:password@")
	}
	return u, nil
}
