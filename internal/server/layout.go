package server

import (
	"github.com/gantry-dev/gantry/internal/authz"
	"net"
	"os"
	"path/filepath"

	"github.com/gantry-dev/gantry/internal/oauth"
	"github.com/gantry-dev/gantry/internal/pki"
)

// certs are the files of the cluster's PKI, created by ensurePKI.
type certs struct {
	CA, FrontProxyCA, EtcdCA                      *pki.CA
	APIServer, APIServerKubelet, FrontProxyClient pki.Pair
	EtcdServer, EtcdClient                        pki.Pair
	ControllerManagerServing, SchedulerServing    pki.Pair
	KubeletServing                                pki.Pair
	ServiceAccountKey, ServiceAccountPub          string
	Admin, ControllerManager, Scheduler, Kubelet  pki.Pair
	KubeProxy, DNS                                pki.Pair
	// OpenShiftAPIServing and OpenShiftAPIClient are the aggregated API
	// server's serving certificate and its identity towards kube-apiserver.
	OpenShiftAPIServing, OpenShiftAPIClient, OpenShiftAPIEtcd pki.Pair
	// OAuthServing and OAuthClient are the OAuth server's serving certificate and its identity towards
	// the API; OAuthWebhookClient is kube-apiserver's identity on the token-review webhook.
	OAuthServing, OAuthClient, OAuthWebhookClient pki.Pair
	// Controllers is the identity of Gantry's controllers.
	Controllers pki.Pair
	// Registry is the integrated registry's identity.
	Registry pki.Pair
	// AdmissionServing and AdmissionClient are the admission webhooks' serving certificate and
	// their identity towards the API (it reads image streams).
	AdmissionServing, AdmissionClient pki.Pair
	// AdmissionWebhookClient is kube-apiserver's and openshift-apiserver's identity towards
	// Gantry's admission webhooks.
	AdmissionWebhookClient pki.Pair
	// Router is the router's identity towards the API; RouterServing its default certificate, a
	// wildcard for the routing suffix signed by the cluster CA.
	Router, RouterServing pki.Pair
}

func (c *Config) pkiDir() string             { return filepath.Join(c.DataDir, "pki") }
func (c *Config) kubeconfigDir() string      { return filepath.Join(c.DataDir, "kubeconfig") }
func (c *Config) logDir() string             { return filepath.Join(c.DataDir, "logs") }
func (c *Config) logFile(name string) string { return filepath.Join(c.logDir(), name+".log") }
func (c *Config) kubeconfig(user string) string {
	return filepath.Join(c.kubeconfigDir(), user+".kubeconfig")
}

// CAFile is the cluster CA's certificate in a data directory.
func CAFile(dataDir string) string { return filepath.Join(dataDir, "pki", "ca.crt") }

// PublicCAFile is a copy of the CA certificate that every user of the machine can read (the pki
// directory holds keys and is root's only), so that `gantry login` trusts the local cluster.
func PublicCAFile(dataDir string) string { return filepath.Join(dataDir, "ca.crt") }

// AdminKubeconfig is the cluster-admin kubeconfig of a data directory.
func AdminKubeconfig(dataDir string) string {
	return filepath.Join(dataDir, "kubeconfig", "admin.kubeconfig")
}

// OpenShiftAPIUser is the identity of the aggregated API server towards
// kube-apiserver. It creates namespaces and role bindings for project
// requests, so it is a cluster administrator.
const OpenShiftAPIUser = "system:gantry:openshift-apiserver"

// OAuthUser is the identity of the OAuth server towards the API: it creates users, identities and
// tokens.
const OAuthUser = "system:gantry:oauth-server"

// ControllersUser is the identity of Gantry's controllers; they bind roles in every project.
const ControllersUser = "system:gantry:controllers"

// RegistryUser is the identity of the integrated registry (in group authz.RegistryGroup).
const RegistryUser = "system:gantry:registry"

// AdmissionUser is the identity of Gantry's admission webhook server: it may read image streams
// (the ClusterRole of the same name); the webhook configuration is registered as the admin.
const AdmissionUser = "system:gantry:admission"

// AdmissionWebhookClientUser is the identity the API servers present to Gantry's admission
// webhooks, which answer no one else.
const AdmissionWebhookClientUser = "system:gantry:admission-webhook-client"

// RouterUser is the identity of the router `gantry start` runs; it has the system:router
// cluster role (RouterRole).
const RouterUser = "system:gantry:router"

// DNSUser is the identity of the cluster DNS server.
const DNSUser = "system:gantry:dns"

// ensurePKI creates the CAs, serving and client certificates and the service-account key pair.
func (c *Config) ensurePKI() (*certs, error) {
	dir := c.pkiDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var k certs
	var err error
	if k.CA, err = pki.EnsureCA(dir, "ca", "gantry-ca"); err != nil {
		return nil, err
	}
	if k.FrontProxyCA, err = pki.EnsureCA(dir, "front-proxy-ca", "gantry-front-proxy-ca"); err != nil {
		return nil, err
	}
	if k.EtcdCA, err = pki.EnsureCA(filepath.Join(dir, "etcd"), "ca", "gantry-etcd-ca"); err != nil {
		return nil, err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	issue := []struct {
		ca   *pki.CA
		dir  string
		spec pki.Spec
		dst  *pki.Pair
	}{
		{k.CA, dir, pki.Spec{Name: "apiserver", CommonName: "kube-apiserver", Server: true,
			DNSNames: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + c.ClusterDomain, "localhost", c.NodeName},
			IPs:      []net.IP{c.NodeIP, c.ServiceIP(1), net.ParseIP("127.0.0.1")}}, &k.APIServer},
		{k.CA, dir, pki.Spec{Name: "apiserver-kubelet-client", CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}, Client: true}, &k.APIServerKubelet},
		{k.FrontProxyCA, dir, pki.Spec{Name: "front-proxy-client", CommonName: "front-proxy-client", Client: true}, &k.FrontProxyClient},
		{k.EtcdCA, filepath.Join(dir, "etcd"), pki.Spec{Name: "server", CommonName: "etcd", Server: true, Client: true, DNSNames: []string{"localhost"}, IPs: loopback}, &k.EtcdServer},
		{k.EtcdCA, filepath.Join(dir, "etcd"), pki.Spec{Name: "apiserver-client", CommonName: "kube-apiserver-etcd-client", Client: true}, &k.EtcdClient},
		{k.CA, dir, pki.Spec{Name: "controller-manager-serving", CommonName: "kube-controller-manager", Server: true, DNSNames: []string{"localhost"}, IPs: loopback}, &k.ControllerManagerServing},
		{k.CA, dir, pki.Spec{Name: "scheduler-serving", CommonName: "kube-scheduler", Server: true, DNSNames: []string{"localhost"}, IPs: loopback}, &k.SchedulerServing},
		{k.CA, dir, pki.Spec{Name: "kubelet-serving", CommonName: "system:node:" + c.NodeName, Organization: []string{"system:nodes"}, Server: true, DNSNames: []string{c.NodeName, "localhost"}, IPs: []net.IP{c.NodeIP, net.ParseIP("127.0.0.1")}}, &k.KubeletServing},
		{k.CA, dir, pki.Spec{Name: "admin", CommonName: "system:admin", Organization: []string{"system:masters"}, Client: true}, &k.Admin},
		{k.CA, dir, pki.Spec{Name: "controller-manager", CommonName: "system:kube-controller-manager", Client: true}, &k.ControllerManager},
		{k.CA, dir, pki.Spec{Name: "scheduler", CommonName: "system:kube-scheduler", Client: true}, &k.Scheduler},
		{k.CA, dir, pki.Spec{Name: "kubelet", CommonName: "system:node:" + c.NodeName, Organization: []string{"system:nodes"}, Client: true}, &k.Kubelet},
		{k.CA, dir, pki.Spec{Name: "kube-proxy", CommonName: "system:kube-proxy", Client: true}, &k.KubeProxy},
		{k.CA, dir, pki.Spec{Name: "dns", CommonName: DNSUser, Client: true}, &k.DNS},
		{k.CA, dir, pki.Spec{Name: "openshift-apiserver-serving", CommonName: "openshift-apiserver", Server: true,
			DNSNames: []string{"api.openshift-apiserver.svc", "api.openshift-apiserver.svc." + c.ClusterDomain, "localhost"},
			IPs:      []net.IP{c.NodeIP, net.ParseIP("127.0.0.1")}}, &k.OpenShiftAPIServing},
		{k.CA, dir, pki.Spec{Name: "openshift-apiserver", CommonName: OpenShiftAPIUser, Organization: []string{"system:masters"}, Client: true}, &k.OpenShiftAPIClient},
		{k.EtcdCA, filepath.Join(dir, "etcd"), pki.Spec{Name: "openshift-apiserver-client", CommonName: "openshift-apiserver-etcd-client", Client: true}, &k.OpenShiftAPIEtcd},
		{k.CA, dir, pki.Spec{Name: "oauth-serving", CommonName: "oauth-server", Server: true,
			DNSNames: []string{"localhost", c.NodeName}, IPs: []net.IP{c.NodeIP, net.ParseIP("127.0.0.1")}}, &k.OAuthServing},
		{k.CA, dir, pki.Spec{Name: "oauth-server", CommonName: OAuthUser, Organization: []string{"system:masters"}, Client: true}, &k.OAuthClient},
		{k.CA, dir, pki.Spec{Name: "controllers", CommonName: ControllersUser, Organization: []string{"system:masters"}, Client: true}, &k.Controllers},
		{k.CA, dir, pki.Spec{Name: "registry", CommonName: RegistryUser, Organization: []string{authz.RegistryGroup}, Client: true}, &k.Registry},
		{k.CA, dir, pki.Spec{Name: "admission-serving", CommonName: "gantry-admission", Server: true,
			DNSNames: []string{"localhost", c.NodeName}, IPs: []net.IP{c.NodeIP, net.ParseIP("127.0.0.1")}}, &k.AdmissionServing},
		{k.CA, dir, pki.Spec{Name: "admission", CommonName: AdmissionUser, Client: true}, &k.AdmissionClient},
		{k.CA, dir, pki.Spec{Name: "admission-webhook-client", CommonName: AdmissionWebhookClientUser, Client: true}, &k.AdmissionWebhookClient},
		{k.CA, dir, pki.Spec{Name: "router", CommonName: RouterUser, Client: true}, &k.Router},
		{k.CA, dir, pki.Spec{Name: "router-default", CommonName: "*." + c.RouterSuffix(), Server: true,
			DNSNames: []string{"*." + c.RouterSuffix(), c.RouterSuffix()}}, &k.RouterServing},
		{k.CA, dir, pki.Spec{Name: "apiserver-token-webhook-client", CommonName: oauth.WebhookUser, Client: true}, &k.OAuthWebhookClient},
	}
	for _, i := range issue {
		if *i.dst, err = i.ca.Issue(i.dir, i.spec); err != nil {
			return nil, err
		}
	}
	if k.ServiceAccountKey, k.ServiceAccountPub, err = pki.EnsureKeyPair(dir, "service-account"); err != nil {
		return nil, err
	}
	return &k, nil
}

// copyFile writes src's content to dst with mode, replacing dst atomically.
func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
