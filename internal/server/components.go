package server

import (
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/gantry-dev/gantry/internal/etcd"
	"github.com/gantry-dev/gantry/internal/oauth"
)

const (
	etcdClientURL         = "https://127.0.0.1:2379"
	etcdPeerURL           = "https://127.0.0.1:2380"
	controllerManagerPort = 10257
	schedulerPort         = 10259
	kubeletHealthzURL     = "http://127.0.0.1:10248/healthz"
	kubeProxyHealthzURL   = "http://127.0.0.1:10256/healthz"
	serviceAccountIssuer  = "https://kubernetes.default.svc"
	frontProxyClientCN    = "front-proxy-client"
)

func (c *Config) etcdConfig(k *certs) etcd.Config {
	return etcd.Config{
		DataDir:       filepath.Join(c.DataDir, "etcd"),
		ClientURL:     etcdClientURL,
		PeerURL:       etcdPeerURL,
		CertFile:      k.EtcdServer.CertFile,
		KeyFile:       k.EtcdServer.KeyFile,
		TrustedCAFile: k.EtcdCA.CertFile,
		LogFile:       c.logFile("etcd"),
	}
}

func (c *Config) apiServerFlags(k *certs) map[string]string {
	return map[string]string{
		"advertise-address":                c.NodeIP.String(),
		"bind-address":                     c.NodeIP.String(),
		"secure-port":                      fmt.Sprint(c.APIServerPort),
		"etcd-servers":                     etcdClientURL,
		"etcd-cafile":                      k.EtcdCA.CertFile,
		"etcd-certfile":                    k.EtcdClient.CertFile,
		"etcd-keyfile":                     k.EtcdClient.KeyFile,
		"client-ca-file":                   k.CA.CertFile,
		"tls-cert-file":                    k.APIServer.CertFile,
		"tls-private-key-file":             k.APIServer.KeyFile,
		"kubelet-client-certificate":       k.APIServerKubelet.CertFile,
		"kubelet-client-key":               k.APIServerKubelet.KeyFile,
		"kubelet-certificate-authority":    k.CA.CertFile,
		"kubelet-preferred-address-types":  "InternalIP,Hostname",
		"service-cluster-ip-range":         c.ServiceCIDR.String(),
		"service-account-issuer":           serviceAccountIssuer,
		"service-account-key-file":         k.ServiceAccountPub,
		"service-account-signing-key-file": k.ServiceAccountKey,
		// After RBAC, Gantry's webhook lets a project's own roles act on the project itself.
		"authorization-mode":                           "Node,RBAC,Webhook",
		"authorization-webhook-config-file":            c.authzWebhookKubeconfig(),
		"authorization-webhook-version":                "v1",
		"authorization-webhook-cache-authorized-ttl":   "10s",
		"authorization-webhook-cache-unauthorized-ttl": "10s",
		// AlwaysPullImages: a pod must pull (and so be allowed to pull) its image even when the
		// node has it from another project's pod; without it a project could run another's
		// private image by naming its digest.
		"enable-admission-plugins": "NodeRestriction,AlwaysPullImages",
		// The webhook plugins' client certificate towards Gantry's admission webhooks.
		"admission-control-config-file":      c.admissionConfigFile(),
		"allow-privileged":                   "true",
		"requestheader-client-ca-file":       k.FrontProxyCA.CertFile,
		"requestheader-allowed-names":        frontProxyClientCN,
		"requestheader-username-headers":     "X-Remote-User",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"proxy-client-cert-file":             k.FrontProxyClient.CertFile,
		"proxy-client-key-file":              k.FrontProxyClient.KeyFile,
		// Aggregated API servers are reached at their endpoint (the node IP), not through kube-proxy.
		"enable-aggregator-routing": "true",
		"profiling":                 "false",
		// OAuth tokens are checked by the OAuth server. A positive answer is cached for 10 seconds,
		// the longest a deleted token keeps working.
		"authentication-token-webhook-config-file": c.tokenWebhookKubeconfig(),
		"authentication-token-webhook-version":     "v1",
		"authentication-token-webhook-cache-ttl":   "10s",
	}
}

// apiServerHandlers are the non-API paths kube-apiserver serves: the OAuth server's metadata, where
// oc and gantry login find it (as on OpenShift).
func (c *Config) apiServerHandlers() map[string]http.Handler {
	return map[string]http.Handler{"/.well-known/oauth-authorization-server": oauth.MetadataHandler(c.OAuthURL())}
}

func (c *Config) controllerManagerFlags(k *certs) map[string]string {
	kc := c.kubeconfig("controller-manager")
	return map[string]string{
		"kubeconfig":                       kc,
		"authentication-kubeconfig":        kc,
		"authorization-kubeconfig":         kc,
		"bind-address":                     "127.0.0.1",
		"secure-port":                      fmt.Sprint(controllerManagerPort),
		"tls-cert-file":                    k.ControllerManagerServing.CertFile,
		"tls-private-key-file":             k.ControllerManagerServing.KeyFile,
		"cluster-signing-cert-file":        k.CA.CertFile,
		"cluster-signing-key-file":         k.CA.KeyFile,
		"root-ca-file":                     k.CA.CertFile,
		"service-account-private-key-file": k.ServiceAccountKey,
		"use-service-account-credentials":  "true",
		"leader-elect":                     "false",
		// The node's pod range is set in its CNI configuration, not allocated by the controller.
		"controllers":              "*,-nodeipam",
		"cluster-cidr":             c.ClusterCIDR.String(),
		"service-cluster-ip-range": c.ServiceCIDR.String(),
		"cluster-name":             "gantry",
		"profiling":                "false",
	}
}

func (c *Config) schedulerFlags(k *certs) map[string]string {
	kc := c.kubeconfig("scheduler")
	return map[string]string{
		"kubeconfig":                kc,
		"authentication-kubeconfig": kc,
		"authorization-kubeconfig":  kc,
		"bind-address":              "127.0.0.1",
		"secure-port":               fmt.Sprint(schedulerPort),
		"tls-cert-file":             k.SchedulerServing.CertFile,
		"tls-private-key-file":      k.SchedulerServing.KeyFile,
		"leader-elect":              "false",
		"profiling":                 "false",
	}
}

func (c *Config) kubeletFlags() map[string]string {
	return map[string]string{
		"config":            c.layout().KubeletConfigFile(),
		"kubeconfig":        c.kubeconfig("kubelet"),
		"root-dir":          c.layout().KubeletDir(),
		"node-ip":           c.NodeIP.String(),
		"hostname-override": c.NodeName,
		"v":                 "1",
	}
}

func (c *Config) kubeProxyFlags() map[string]string {
	return map[string]string{"config": c.layout().KubeProxyConfigFile(), "v": "1"}
}

func (c *Config) containerdFlags() map[string]string {
	return map[string]string{"config": c.layout().ContainerdConfig(), "log-level": "warn"}
}
