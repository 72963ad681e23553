package server

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"

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
		"router":              k.Router,
	} {
		if err := writeKubeconfig(c.kubeconfig(user), c.APIServerURL(), k.CA.CertFile, user, pair); err != nil {
			return err
		}
	}
	// kube-apiserver reaches the OAuth server's token-review webhook with its own client certificate.
	if err := writeKubeconfig(c.tokenWebhookKubeconfig(), c.OAuthURL()+"/tokenreview", k.CA.CertFile, "kube-apiserver", k.OAuthWebhookClient); err != nil {
		return err
	}
	if err := writeKubeconfig(c.authzWebhookKubeconfig(), c.OAuthURL()+"/subjectaccessreview", k.CA.CertFile, "kube-apiserver", k.OAuthWebhookClient); err != nil {
		return err
	}
	return c.writeAdmissionConfig(k)
}

func (c *Config) admissionConfigFile() string {
	return filepath.Join(c.DataDir, "admission", "config.yaml")
}
func (c *Config) admissionWebhookKubeconfig() string {
	return filepath.Join(c.DataDir, "admission", "webhook-client.kubeconfig")
}

// writeAdmissionConfig writes the AdmissionConfiguration kube-apiserver and openshift-apiserver
// load (--admission-control-config-file): their webhook plugins present the
// admission-webhook-client certificate to Gantry's webhooks. The kubeconfig's user is named
// after the webhooks' host:port, which is how the plugins pick credentials for a webhook URL.
func (c *Config) writeAdmissionConfig(k *certs) error {
	dir := filepath.Dir(c.admissionConfigFile())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	kc := clientcmdapi.NewConfig()
	kc.AuthInfos[net.JoinHostPort(c.NodeIP.String(), fmt.Sprint(AdmissionPort))] = &clientcmdapi.AuthInfo{
		ClientCertificate: k.AdmissionWebhookClient.CertFile, ClientKey: k.AdmissionWebhookClient.KeyFile,
	}
	if err := clientcmd.WriteToFile(*kc, c.admissionWebhookKubeconfig()); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", c.admissionWebhookKubeconfig(), err)
	}
	webhook, err := json.Marshal(map[string]string{
		"apiVersion": "apiserver.config.k8s.io/v1", "kind": "WebhookAdmissionConfiguration",
		"kubeConfigFile": c.admissionWebhookKubeconfig(),
	})
	if err != nil {
		return err
	}
	cfg := apiserverv1.AdmissionConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: "apiserver.config.k8s.io/v1", Kind: "AdmissionConfiguration"},
	}
	for _, plugin := range []string{"MutatingAdmissionWebhook", "ValidatingAdmissionWebhook"} {
		cfg.Plugins = append(cfg.Plugins, apiserverv1.AdmissionPluginConfiguration{
			Name: plugin, Configuration: &runtime.Unknown{Raw: webhook, ContentType: runtime.ContentTypeJSON},
		})
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(c.admissionConfigFile(), out, 0o600)
}

func (c *Config) tokenWebhookKubeconfig() string { return c.kubeconfig("token-webhook") }
func (c *Config) authzWebhookKubeconfig() string { return c.kubeconfig("authorization-webhook") }

// restConfig loads a client configuration from one of the kubeconfigs.
// openShiftAPIConfig is restConfig(user) aimed at Gantry's OpenShift API server itself rather
// than kube-apiserver: in-process clients of the OpenShift API (the registry, the controllers'
// and webhooks' image stream informers) skip the aggregator's proxy, a second TLS hop and
// handler chain on every request and watch event.
func (c *Config) openShiftAPIConfig(user string) (*rest.Config, error) {
	rc, err := c.restConfig(user)
	if err != nil {
		return nil, err
	}
	rc.Host = c.openShiftAPIURL()
	return rc, nil
}

func (c *Config) openShiftAPIURL() string {
	return "https://" + net.JoinHostPort(c.NodeIP.String(), strconv.Itoa(OpenShiftAPIPort))
}

func (c *Config) restConfig(user string) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig(user))
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", user, err)
	}
	rc.UserAgent = "gantry/" + user
	return rc, nil
}
