package login

import (
	"fmt"
	"os"
	"reflect"
	"sort"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gantry-dev/gantry/internal/cli/project"
)

// userNickname is oc's name for the kubeconfig user of a person on a cluster: name/cluster.
func userNickname(user, server string) string {
	return user + "/" + project.ClusterNickname(server)
}

// loginConfig is the kubeconfig a login adds: the cluster, the user's credentials and a context for
// the project, named as oc names them, and made current.
func loginConfig(projectName, user string, cfg *rest.Config) *clientcmdapi.Config {
	clusterNick := project.ClusterNickname(cfg.Host)
	userNick := userNickname(user, cfg.Host)
	contextNick := project.ContextName(projectName, cfg.Host, user)

	kc := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = cfg.Host
	cluster.InsecureSkipTLSVerify = cfg.Insecure
	cluster.CertificateAuthority = cfg.CAFile
	if cfg.CAFile == "" {
		cluster.CertificateAuthorityData = cfg.CAData
	}
	kc.Clusters[clusterNick] = cluster

	auth := clientcmdapi.NewAuthInfo()
	auth.Token = cfg.BearerToken
	auth.ClientCertificate, auth.ClientKey = cfg.CertFile, cfg.KeyFile
	if cfg.CertFile == "" {
		auth.ClientCertificateData = cfg.CertData
	}
	if cfg.KeyFile == "" {
		auth.ClientKeyData = cfg.KeyData
	}
	kc.AuthInfos[userNick] = auth

	ctx := clientcmdapi.NewContext()
	ctx.Cluster, ctx.AuthInfo, ctx.Namespace = clusterNick, userNick, projectName
	kc.Contexts[contextNick] = ctx
	kc.CurrentContext = contextNick
	return kc
}

// mergeConfig adds addition to base as oc does: clusters and users replace those of the same name; a
// context is added unless base has one with the same cluster, user and namespace, which is then the
// one made current. Every other entry of base is kept.
func mergeConfig(base, addition *clientcmdapi.Config) *clientcmdapi.Config {
	out := base.DeepCopy()
	if out.Clusters == nil {
		out.Clusters = map[string]*clientcmdapi.Cluster{}
	}
	if out.AuthInfos == nil {
		out.AuthInfos = map[string]*clientcmdapi.AuthInfo{}
	}
	if out.Contexts == nil {
		out.Contexts = map[string]*clientcmdapi.Context{}
	}
	for name, c := range addition.Clusters {
		if old := out.Clusters[name]; old != nil {
			c.LocationOfOrigin = old.LocationOfOrigin
		}
		out.Clusters[name] = c
	}
	for name, a := range addition.AuthInfos {
		if old := out.AuthInfos[name]; old != nil {
			a.LocationOfOrigin = old.LocationOfOrigin
		}
		out.AuthInfos[name] = a
	}
	actual := map[string]string{}
	for name, c := range addition.Contexts {
		if existing := findContext(base, c); existing != "" {
			actual[name] = existing
			continue
		}
		actual[name] = name
		out.Contexts[name] = c
	}
	if addition.CurrentContext != "" {
		out.CurrentContext = addition.CurrentContext
		if name, ok := actual[addition.CurrentContext]; ok {
			out.CurrentContext = name
		}
	}
	return out
}

// findContext returns the name of a context of kc equal to want (cluster, user, namespace and
// extensions), the first in name order.
func findContext(kc *clientcmdapi.Config, want *clientcmdapi.Context) string {
	for _, name := range sortedKeys(kc.Contexts) {
		c := *kc.Contexts[name]
		c.LocationOfOrigin = want.LocationOfOrigin
		if reflect.DeepEqual(&c, want) {
			return name
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeConfig writes kc through access (each entry to the file it came from, new entries to the
// default file) and makes the files holding the named users readable only by their owner: they hold
// tokens.
func writeConfig(access clientcmd.ConfigAccess, kc *clientcmdapi.Config, users ...string) error {
	if err := clientcmd.ModifyConfig(access, *kc, true); err != nil {
		if os.IsPermission(err) {
			return fmt.Errorf("write the kubeconfig %s: %w\nTry: make it writable, or point KUBECONFIG (or --kubeconfig) at a file you may write", access.GetDefaultFilename(), err)
		}
		return fmt.Errorf("write the kubeconfig %s: %w", access.GetDefaultFilename(), err)
	}
	files := map[string]bool{}
	for _, u := range users {
		f := access.GetDefaultFilename()
		if a := kc.AuthInfos[u]; a != nil && a.LocationOfOrigin != "" {
			f = a.LocationOfOrigin
		}
		files[f] = true
	}
	for f := range files {
		if err := os.Chmod(f, 0o600); err != nil {
			return fmt.Errorf("make the kubeconfig %s private: %w", f, err)
		}
	}
	return nil
}
