package server

import (
	"fmt"
	"k8s.io/apimachinery/pkg/labels"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gantry-dev/gantry/internal/registry"
)

// Components whose upstream flags a user can extend with --<component>-arg.
const (
	KubeAPIServer         = "kube-apiserver"
	KubeControllerManager = "kube-controller-manager"
	KubeScheduler         = "kube-scheduler"
	Kubelet               = "kubelet"
	KubeProxy             = "kube-proxy"
	Containerd            = "containerd"
	// OpenShiftAPIServer is Gantry's aggregated API server.
	OpenShiftAPIServer = "openshift-apiserver"
	// OAuthServer is Gantry's OAuth server.
	OAuthServer = "oauth-server"
)

// OpenShiftAPIPort is where the aggregated API server listens on the node IP.
const OpenShiftAPIPort = 8443

// OAuthPort is where the OAuth server listens on the node IP; ConsolePort is the web console's;
// AdmissionPort is Gantry's admission webhooks'.
const (
	OAuthPort     = 8444
	ConsolePort   = 8445
	AdmissionPort = 8446
)

// Config is the configuration of `gantry start`.
type Config struct {
	// DataDir holds everything the cluster keeps: etcd data, certificates, kubeconfigs, images,
	// containerd's content and the kubelet's state.
	DataDir string
	// NodeName is the name of this node (the host name by default).
	NodeName string
	// NodeIP is the address the node's servers listen on and advertise. When no interface has it,
	// Gantry adds it to the loopback device.
	NodeIP net.IP
	// APIServerPort is kube-apiserver's secure port on NodeIP.
	APIServerPort int
	// ServiceCIDR holds the cluster IPs of services (OpenShift's 172.30.0.0/16 by default); its first
	// address is the kubernetes service, its tenth the cluster DNS.
	ServiceCIDR *net.IPNet
	// ClusterCIDR is the pod network of the whole cluster; PodCIDR the part this node hands out.
	ClusterCIDR, PodCIDR *net.IPNet
	// ClusterDomain is the DNS domain of services (cluster.local).
	ClusterDomain string
	// RegistryAddr is the loopback address of the registry the node pulls Gantry's images from.
	RegistryAddr string
	// Version tags Gantry's own images.
	Version string
	// ProjectRequestMessage is shown to users who may not request projects.
	ProjectRequestMessage string
	// ProjectRequestTemplate is "namespace/name" of the Template new
	// projects are made from (a built-in one when empty).
	ProjectRequestTemplate string
	// RegistryStorageFile, when set, is a YAML file with the integrated registry's storage (a
	// distribution storage driver and its parameters, e.g. s3); default: the data directory.
	RegistryStorageFile string
	// AllowedRegistriesForImport lists the registries image imports may
	// reach (host or host:port patterns, "*" for DNS labels); see
	// apiserver.ImageConfig.
	AllowedRegistriesForImport []string
	// ScheduledImportInterval is how often image stream tags with importPolicy.scheduled are
	// imported again.
	ScheduledImportInterval time.Duration
	// OAuthConfigFile holds the identity providers and token settings (the oauthConfig stanza of an
	// OpenShift 3 master-config.yaml). Empty: an htpasswd file in the data directory with an admin
	// user whose password is generated on the first start.
	OAuthConfigFile string
	// Router runs Gantry's router on the node (the "router" service), serving routes on the node IP
	// at RouterHTTPPort and RouterHTTPSPort.
	Router                          bool
	RouterHTTPPort, RouterHTTPSPort int
	// RouterRouteSelector is the node router's shard: a label selector routes must match
	// (OpenShift's ROUTE_LABELS); empty serves every route.
	RouterRouteSelector string
	// RoutingSuffix is the subdomain routes without a host are given (<route>-<namespace>.<suffix>)
	// and the router's default certificate covers (*.<suffix>). Empty means DefaultRoutingSuffix
	// of the node IP.
	RoutingSuffix string
	// ExtraArgs holds the upstream flags a user set, per component, as key → value (overriding ours).
	ExtraArgs map[string][]string
}

// DefaultDataDir is where `gantry start` keeps its state when run as root.
const DefaultDataDir = "/var/lib/gantry"

// DefaultConfig returns the single-machine defaults.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	_, svc, _ := net.ParseCIDR("172.30.0.0/16")
	_, cluster, _ := net.ParseCIDR("10.128.0.0/14")
	_, pod, _ := net.ParseCIDR("10.128.0.0/23")
	return Config{
		DataDir:                 DefaultDataDir,
		NodeName:                strings.ToLower(host),
		NodeIP:                  net.ParseIP("10.127.0.1"),
		APIServerPort:           6443,
		ServiceCIDR:             svc,
		ClusterCIDR:             cluster,
		PodCIDR:                 pod,
		ClusterDomain:           "cluster.local",
		RegistryAddr:            "127.0.0.1:5000",
		ScheduledImportInterval: 15 * time.Minute,
		Version:                 "dev",
		Router:                  true,
		RouterHTTPPort:          80,
		RouterHTTPSPort:         443,
	}
}

// Validate checks the configuration for mistakes a user can make on the command line.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir is empty")
	}
	if !filepath.IsAbs(c.DataDir) {
		abs, err := filepath.Abs(c.DataDir)
		if err != nil {
			return err
		}
		c.DataDir = abs
	}
	if c.NodeIP == nil || c.NodeIP.IsLoopback() || c.NodeIP.IsUnspecified() {
		return fmt.Errorf("--node-ip %v: must be a non-loopback unicast address (Kubernetes refuses loopback endpoints)", c.NodeIP)
	}
	if c.NodeName == "" {
		return fmt.Errorf("--node-name is empty and the host name is unknown")
	}
	if f := c.RegistryStorageFile; f != "" {
		if _, err := registry.LoadStorage(f); err != nil {
			return fmt.Errorf("--registry-storage: %w", err)
		}
	}
	if t := c.ProjectRequestTemplate; t != "" {
		ns, name, ok := strings.Cut(t, "/")
		if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
			return fmt.Errorf("--project-request-template %q: want NAMESPACE/NAME of a Template, e.g. default/project-request", t)
		}
	}
	for flagName, n := range map[string]*net.IPNet{"--service-cidr": c.ServiceCIDR, "--cluster-cidr": c.ClusterCIDR, "--pod-cidr": c.PodCIDR} {
		if n.IP.To4() == nil {
			return fmt.Errorf("%s %s: only IPv4 networks are supported", flagName, n)
		}
	}
	if ones, _ := c.ServiceCIDR.Mask.Size(); ones > 28 {
		return fmt.Errorf("--service-cidr %s is too small: use a /28 or larger (the DNS service takes its tenth address)", c.ServiceCIDR)
	}
	clusterOnes, _ := c.ClusterCIDR.Mask.Size()
	if podOnes, _ := c.PodCIDR.Mask.Size(); !c.ClusterCIDR.Contains(c.PodCIDR.IP) || podOnes < clusterOnes {
		return fmt.Errorf("--pod-cidr %s is not inside --cluster-cidr %s", c.PodCIDR, c.ClusterCIDR)
	}
	if overlaps(c.ServiceCIDR, c.ClusterCIDR) {
		return fmt.Errorf("--service-cidr %s overlaps --cluster-cidr %s", c.ServiceCIDR, c.ClusterCIDR)
	}
	if c.ServiceCIDR.Contains(c.NodeIP) || c.ClusterCIDR.Contains(c.NodeIP) {
		return fmt.Errorf("--node-ip %s is inside the service or pod network", c.NodeIP)
	}
	if _, _, err := net.SplitHostPort(c.RegistryAddr); err != nil {
		return fmt.Errorf("--registry-addr %q: %w", c.RegistryAddr, err)
	}
	return c.validateRouter()
}

// DefaultRoutingSuffix is apps.<node-ip>.nip.io: a name every host of the node IP resolves
// through the public nip.io service, and a valid DNS suffix where it does not resolve.
func DefaultRoutingSuffix(nodeIP net.IP) string { return "apps." + nodeIP.String() + ".nip.io" }

// RouterSuffix is the routing suffix in effect.
func (c *Config) RouterSuffix() string {
	if c.RoutingSuffix != "" {
		return c.RoutingSuffix
	}
	return DefaultRoutingSuffix(c.NodeIP)
}

func (c *Config) validateRouter() error {
	if errs := validation.IsDNS1123Subdomain(c.RouterSuffix()); len(errs) > 0 {
		return fmt.Errorf("--routing-suffix %q: %s. Try: a DNS name such as apps.example.com", c.RouterSuffix(), strings.Join(errs, "; "))
	}
	if _, err := labels.Parse(c.RouterRouteSelector); err != nil {
		return fmt.Errorf("--router-route-selector %q: %v. Try: a label selector such as shard=a,env!=test", c.RouterRouteSelector, err)
	}
	if !c.Router {
		return nil
	}
	for name, p := range map[string]int{"--router-http-port": c.RouterHTTPPort, "--router-https-port": c.RouterHTTPSPort} {
		if p <= 0 || p > 65535 {
			return fmt.Errorf("%s %d is not a port. Try: a number from 1 to 65535, or --router=false", name, p)
		}
	}
	if c.RouterHTTPPort == c.RouterHTTPSPort {
		return fmt.Errorf("--router-http-port and --router-https-port are both %d. Try: two different ports", c.RouterHTTPPort)
	}
	return nil
}

func overlaps(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

// ServiceIP returns the n-th address of the service network (1: kubernetes, 10: DNS).
func (c *Config) ServiceIP(n byte) net.IP {
	ip := make(net.IP, len(c.ServiceCIDR.IP.To4()))
	copy(ip, c.ServiceCIDR.IP.To4())
	ip[len(ip)-1] += n
	return ip
}

// DNSIP is the cluster IP of the DNS service.
func (c *Config) DNSIP() net.IP { return c.ServiceIP(10) }

// APIServerURL is the URL clients use.
func (c *Config) APIServerURL() string {
	return fmt.Sprintf("https://%s", net.JoinHostPort(c.NodeIP.String(), fmt.Sprint(c.APIServerPort)))
}

// OAuthURL is the OAuth server's issuer URL.
func (c *Config) OAuthURL() string {
	return fmt.Sprintf("https://%s", net.JoinHostPort(c.NodeIP.String(), fmt.Sprint(OAuthPort)))
}

// AdmissionURL is the base URL of Gantry's admission webhooks.
func (c *Config) AdmissionURL() string {
	return fmt.Sprintf("https://%s", net.JoinHostPort(c.NodeIP.String(), fmt.Sprint(AdmissionPort)))
}

// ConsoleURL is the web console's URL (the redirect URI of its OAuth client).
func (c *Config) ConsoleURL() string {
	return fmt.Sprintf("https://%s/", net.JoinHostPort(c.NodeIP.String(), fmt.Sprint(ConsolePort)))
}

// ParseExtraArg parses one --<component>-arg value: "key=value", "--key=value" or "key" (a boolean).
func ParseExtraArg(s string) (key, value string, err error) {
	s = strings.TrimLeft(s, "-")
	key, value, found := strings.Cut(s, "=")
	if key == "" {
		return "", "", fmt.Errorf("%q is not a flag: use key=value, e.g. v=4", s)
	}
	if !found {
		value = "true"
	}
	return key, value, nil
}

// Args turns a flag map into sorted --key=value arguments after applying the user's extra arguments
// for component (a user's value replaces ours; a key given several times is passed several times).
func (c *Config) Args(component string, flags map[string]string) ([]string, error) {
	merged := map[string][]string{}
	for k, v := range flags {
		merged[k] = []string{v}
	}
	overridden := map[string]bool{}
	for _, extra := range c.ExtraArgs[component] {
		k, v, err := ParseExtraArg(extra)
		if err != nil {
			return nil, fmt.Errorf("--%s-arg: %w", component, err)
		}
		if !overridden[k] {
			merged[k] = nil
			overridden[k] = true
		}
		merged[k] = append(merged[k], v)
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var args []string
	for _, k := range keys {
		for _, v := range merged[k] {
			args = append(args, fmt.Sprintf("--%s=%s", k, v))
		}
	}
	return args, nil
}
