package imageimport

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// credential is one registry login of a docker-registry secret.
type credential struct {
	host   string // normalized host[:port]
	path   string // repository path prefix, "" for the whole registry
	secret string
	auth   authn.AuthConfig
}

// dockerConfigEntry is one entry of a .dockercfg or of the auths of a .dockerconfigjson.
type dockerConfigEntry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// normalizeHost lower-cases a registry host and names Docker Hub one way.
func normalizeHost(h string) string {
	h = strings.ToLower(h)
	if dockerHubHosts[h] {
		return "index.docker.io"
	}
	return h
}

// parseKey splits a docker config key ("https://registry.example.com/v1/", "host:5000",
// "host/team") into host and repository path prefix.
func parseKey(key string) (host, path string) {
	k := strings.TrimSpace(key)
	if i := strings.Index(k, "://"); i >= 0 {
		k = k[i+3:]
	}
	host, path, _ = strings.Cut(k, "/")
	path = strings.Trim(path, "/")
	if path == "v1" || path == "v2" {
		path = ""
	}
	return normalizeHost(host), path
}

func (e dockerConfigEntry) authConfig() authn.AuthConfig {
	a := authn.AuthConfig{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
	if e.Auth != "" && a.Username == "" {
		if raw, err := base64.StdEncoding.DecodeString(e.Auth); err == nil {
			if u, p, ok := strings.Cut(string(raw), ":"); ok {
				a.Username, a.Password = u, p
			}
		}
	}
	return a
}

// secretCredentials reads the registry logins of a kubernetes.io/dockerconfigjson or
// kubernetes.io/dockercfg secret; other secrets have none.
func secretCredentials(s *corev1.Secret) []credential {
	var entries map[string]dockerConfigEntry
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]dockerConfigEntry `json:"auths"`
		}
		if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
			klog.V(2).InfoS("Skipping a docker-registry secret that is not valid JSON", "secret", s.Namespace+"/"+s.Name, "err", err)
			return nil
		}
		entries = cfg.Auths
	case corev1.SecretTypeDockercfg:
		if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &entries); err != nil {
			klog.V(2).InfoS("Skipping a dockercfg secret that is not valid JSON", "secret", s.Namespace+"/"+s.Name, "err", err)
			return nil
		}
	default:
		return nil
	}
	var out []credential
	for key, e := range entries {
		host, path := parseKey(key)
		a := e.authConfig()
		if host == "" || (a.Username == "" && a.Password == "" && a.IdentityToken == "" && a.RegistryToken == "") {
			continue
		}
		out = append(out, credential{host: host, path: path, secret: s.Name, auth: a})
	}
	return out
}

// Keychain returns the registry credentials of the docker-registry secrets among secrets
// (kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg), found by registry host (and
// repository path prefix, when a secret names one). The most specific entry wins; among equal
// ones, the secret whose name sorts first. Registries without credentials are pulled anonymously.
func Keychain(secrets []corev1.Secret) authn.Keychain {
	var creds []credential
	for i := range secrets {
		creds = append(creds, secretCredentials(&secrets[i])...)
	}
	sort.SliceStable(creds, func(i, j int) bool {
		if len(creds[i].path) != len(creds[j].path) {
			return len(creds[i].path) > len(creds[j].path)
		}
		if creds[i].secret != creds[j].secret {
			return creds[i].secret < creds[j].secret
		}
		return creds[i].path < creds[j].path
	})
	return &secretKeychain{creds: creds}
}

type secretKeychain struct{ creds []credential }

func (k *secretKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	host := normalizeHost(r.RegistryStr())
	repo := ""
	if full := r.String(); strings.HasPrefix(full, r.RegistryStr()+"/") {
		repo = strings.TrimPrefix(full, r.RegistryStr()+"/")
	}
	for _, c := range k.creds {
		if c.host != host {
			continue
		}
		if c.path == "" || repo == c.path || strings.HasPrefix(repo, c.path+"/") {
			return authn.FromConfig(c.auth), nil
		}
	}
	return authn.Anonymous, nil
}

// LazyKeychain is a Keychain whose secrets are read once, when the first registry is contacted
// (an import refused before that never reads them). An error reading them fails the imports.
func LazyKeychain(load func() ([]corev1.Secret, error)) authn.Keychain {
	return &lazyKeychain{load: load}
}

type lazyKeychain struct {
	load func() ([]corev1.Secret, error)
	once sync.Once
	kc   authn.Keychain
	err  error
}

func (l *lazyKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	l.once.Do(func() {
		secrets, err := l.load()
		if err != nil {
			l.err = err
			return
		}
		l.kc = Keychain(secrets)
	})
	if l.err != nil {
		return nil, l.err
	}
	return l.kc.Resolve(r)
}
