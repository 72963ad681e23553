package server

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gantry-dev/gantry/internal/pki"
)

// writeKubeconfig writes a kubeconfig for a client certificate, with clientcmd (never by hand: a user
// named "n" or "y" is a YAML boolean).
func writeKubeconfig(path, server, caFile, user string, client pki.Pair) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["gantry"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificate: client.CertFile, ClientKey: client.KeyFile}
	cfg.Contexts["gantry"] = &clientcmdapi.Context{Cluster: "gantry", AuthInfo: user, Namespace: "default"}
	cfg.CurrentContext = "gantry"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}

// writeKubeconfigs writes one kubeconfig per client identity.
func (c *Config) writeKubeconfigs(k *certs) error {
	for user, pair := range map[string]pki.Pair{
		"admin":               k.Admin,
		"controller-manager":  k.ControllerManager,
		"scheduler":           k.Scheduler,
		"kubelet":             k.Kubelet,
		"kube-proxy":          k.KubeProxy,
		"dns":                 k.DNS,
		"openshift-apiserver": k.OpenShiftAPIClient,
		"oauth-server":        k.OAuthClient,
		"controllers":         k.Controllers,
		"registry":            k.Registry,
		"admission":           k.AdmissionClient,
	} {
		if err := writeKubeconfig(c.kubeconfig(user), c.APIServerURL(), k.CA.CertFile, user, pair); err != nil {
			return err
		}
	}
	// kube-apiserver reaches the OAuth server's token-review webhook with its own client certificate.
	if err := writeKubeconfig(c.tokenWebhookKubeconfig(), c.OAuthURL()+"/tokenreview", k.CA.CertFile, "kube-apiserver", k.OAuthWebhookClient); err != nil {
		return err
	}
	return writeKubeconfig(c.authzWebhookKubeconfig(), c.OAuthURL()+"/subjectaccessreview", k.CA.CertFile, "kube-apiserver", k.OAuthWebhookClient)
}

func (c *Config) tokenWebhookKubeconfig() string { return c.kubeconfig("token-webhook") }
func (c *Config) authzWebhookKubeconfig() string { return c.kubeconfig("authorization-webhook") }

// restConfig loads a client configuration from one of the kubeconfigs.
func (c *Config) restConfig(user string) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig(user))
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", user, err)
	}
	rc.UserAgent = "gantry/" + user
	return rc, nil
}
