package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/gantry-dev/gantry/internal/apiserver"
	"io"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/user"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	discoveryv1ac "k8s.io/client-go/applyconfigurations/discovery/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/authz"
	"github.com/gantry-dev/gantry/internal/dns"
	"github.com/gantry-dev/gantry/internal/images"
	"github.com/gantry-dev/gantry/internal/node"
	"github.com/gantry-dev/gantry/internal/registry"
)

// machine is the real Host.
type machine struct {
	cfg   *Config
	certs *certs
	oauth *oauthSetup
	http  map[string]*http.Client
}

// NewHost returns the Host that acts on this machine. s.Prepare must have run.
func NewHost(s *Server) (Host, error) {
	m := &machine{cfg: &s.Config, certs: s.certs, oauth: s.oauth, http: map[string]*http.Client{}}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(s.certs.CA.CertFile)
	if err != nil {
		return nil, err
	}
	pool.AppendCertsFromPEM(caPEM)
	admin, err := tls.LoadX509KeyPair(s.certs.Admin.CertFile, s.certs.Admin.KeyFile)
	if err != nil {
		return nil, err
	}
	mk := func(cfg *tls.Config) *http.Client {
		return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	}
	m.http[KubeAPIServer] = mk(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{admin}})
	m.http[KubeControllerManager] = mk(&tls.Config{RootCAs: pool})
	m.http[KubeScheduler] = m.http[KubeControllerManager]
	m.http[Kubelet] = mk(nil)
	m.http[KubeProxy] = m.http[Kubelet]
	return m, nil
}

func (m *machine) Probe(ctx context.Context, component string) error {
	var url string
	switch component {
	case KubeAPIServer:
		url = m.cfg.APIServerURL() + "/readyz"
	case KubeControllerManager:
		url = fmt.Sprintf("https://127.0.0.1:%d/healthz", controllerManagerPort)
	case KubeScheduler:
		url = fmt.Sprintf("https://127.0.0.1:%d/healthz", schedulerPort)
	case Kubelet:
		url = kubeletHealthzURL
	case KubeProxy:
		url = kubeProxyHealthzURL
	case OpenShiftAPIServer:
		// Ready when kube-apiserver routes every group to it.
		for _, gv := range apiserver.GroupVersions {
			if err := m.get(ctx, KubeAPIServer, m.cfg.APIServerURL()+"/apis/"+gv.String()); err != nil {
				return err
			}
		}
		return nil
	case Containerd:
		cri, err := node.DialCRI(m.cfg.layout().ContainerdSocket())
		if err != nil {
			return err
		}
		defer cri.Close()
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err = cri.Version(ctx)
		return err
	default:
		return fmt.Errorf("no probe for %s", component)
	}
	return m.get(ctx, component, url)
}

// get succeeds when url answers 200 OK.
func (m *machine) get(ctx context.Context, component, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := m.http[component].Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// Registry serves the integrated registry: Gantry tokens, RBAC on image streams, pushes
// recorded in image streams. Its identity has the system:registry role (authz.RegistryGroup).
func (m *machine) Registry(ctx context.Context, ready func()) error {
	rc, err := m.cfg.restConfig("registry")
	if err != nil {
		return err
	}
	auth, err := registry.ClusterAuth(rc, registry.ClusterOptions{
		Hostname:          m.cfg.RegistryAddr,
		AllowedRegistries: m.cfg.AllowedRegistriesForImport,
		ImageAPIHost:      m.cfg.openShiftAPIURL(),
	}, ctx.Done())
	if err != nil {
		return err
	}
	rcfg := registry.Config{Addr: m.cfg.RegistryAddr, RootDir: filepath.Join(m.cfg.DataDir, "registry"), Auth: auth}
	if f := m.cfg.RegistryStorageFile; f != "" {
		if rcfg.Storage, err = registry.LoadStorage(f); err != nil {
			return err
		}
	}
	r, err := registry.New(rcfg)
	if err != nil {
		return err
	}
	return r.Run(ctx, ready)
}

// InfraNamespace holds the image streams of Gantry's own images (pause, gantry). Everyone may
// pull them, anonymously too: containerd pulls the pod sandbox image without credentials.
const InfraNamespace = "gantry"

// PublishImages pushes Gantry's images into the infra namespace as its publisher service
// account, with a short-lived token.
func (m *machine) PublishImages(ctx context.Context) error {
	cs, err := m.client("admin")
	if err != nil {
		return err
	}
	token, err := ensurePublisher(ctx, cs)
	if err != nil {
		return fmt.Errorf("prepare to publish Gantry's images: %w", err)
	}
	if err := ensureImagePruner(ctx, cs); err != nil {
		return fmt.Errorf("create the image pruner service account: %w", err)
	}
	p := &images.Publisher{
		Registry: m.cfg.RegistryAddr, CacheDir: filepath.Join(m.cfg.DataDir, "images"), Version: m.cfg.Version,
		Auth: &authn.Bearer{Token: token},
	}
	refs, err := p.Publish(ctx)
	if err != nil {
		return err
	}
	klog.InfoS("Published Gantry's images", "pause", refs.Pause, "infra", refs.Infra)
	return nil
}

// ensurePublisher makes the infra namespace world-pullable and returns a token of its
// publisher service account, which may push there.
func ensurePublisher(ctx context.Context, cs kubernetes.Interface) (string, error) {
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	if _, err := cs.CoreV1().Namespaces().Apply(ctx, corev1ac.Namespace(InfraNamespace), apply); err != nil {
		return "", err
	}
	const sa = "publisher"
	if _, err := cs.CoreV1().ServiceAccounts(InfraNamespace).Apply(ctx, corev1ac.ServiceAccount(sa, InfraNamespace), apply); err != nil {
		return "", err
	}
	group := func(name string) *rbacv1ac.SubjectApplyConfiguration {
		return rbacv1ac.Subject().WithAPIGroup(rbacv1.GroupName).WithKind(rbacv1.GroupKind).WithName(name)
	}
	bindings := []*rbacv1ac.RoleBindingApplyConfiguration{
		rbacv1ac.RoleBinding("gantry:image-pullers:everyone", InfraNamespace).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(authz.ImagePuller)).
			WithSubjects(group(user.AllAuthenticated), group(user.AllUnauthenticated)),
		rbacv1ac.RoleBinding("gantry:publisher", InfraNamespace).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(authz.ImageBuilder)).
			WithSubjects(rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithName(sa).WithNamespace(InfraNamespace)),
	}
	for _, b := range bindings {
		if _, err := cs.RbacV1().RoleBindings(InfraNamespace).Apply(ctx, b, apply); err != nil {
			return "", err
		}
	}
	expiry := int64(600)
	tr, err := cs.CoreV1().ServiceAccounts(InfraNamespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s/%s: %w", InfraNamespace, sa, err)
	}
	return tr.Status.Token, nil
}

// ensureImagePruner makes the service account gantry/image-pruner a system:image-pruner: `gantry
// adm prune images` run with the local admin's client certificate asks for a short-lived token of
// it, since the registry only takes tokens.
func ensureImagePruner(ctx context.Context, cs kubernetes.Interface) error {
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	ns, name := authz.ImagePrunerNamespace, authz.ImagePrunerServiceAccount
	if _, err := cs.CoreV1().ServiceAccounts(ns).Apply(ctx, corev1ac.ServiceAccount(name, ns), apply); err != nil {
		return err
	}
	crb := rbacv1ac.ClusterRoleBinding("gantry:" + name).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(authz.ImagePruner)).
		WithSubjects(rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithName(name).WithNamespace(ns))
	_, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, crb, apply)
	return err
}

func (m *machine) client(user string) (kubernetes.Interface, error) {
	rc, err := m.cfg.restConfig(user)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(rc)
}

const (
	dnsNamespace = "kube-system"
	dnsService   = "kube-dns"
	fieldManager = "gantry"
)

// Bootstrap applies the objects the cluster DNS needs: its RBAC, a selector-less Service at the tenth
// service address and an EndpointSlice pointing at the node IP, where the DNS server listens
// (EndpointSlices refuse loopback addresses, hence the node IP). Then it waits until the default
// namespace can take pods (its service account exists).
func (m *machine) Bootstrap(ctx context.Context) error {
	cs, err := m.client("admin")
	if err != nil {
		return err
	}
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	role := rbacv1ac.ClusterRole(DNSUser).WithRules(
		rbacv1ac.PolicyRule().WithAPIGroups("").WithResources("services").WithVerbs("list", "watch"),
		rbacv1ac.PolicyRule().WithAPIGroups("discovery.k8s.io").WithResources("endpointslices").WithVerbs("list", "watch"),
	)
	binding := rbacv1ac.ClusterRoleBinding(DNSUser).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(DNSUser)).
		WithSubjects(rbacv1ac.Subject().WithAPIGroup("rbac.authorization.k8s.io").WithKind("User").WithName(DNSUser))
	ports := []*corev1ac.ServicePortApplyConfiguration{
		corev1ac.ServicePort().WithName("dns").WithProtocol(corev1.ProtocolUDP).WithPort(53),
		corev1ac.ServicePort().WithName("dns-tcp").WithProtocol(corev1.ProtocolTCP).WithPort(53),
	}
	svc := corev1ac.Service(dnsService, dnsNamespace).
		WithLabels(map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS-compatible", "app.kubernetes.io/managed-by": "gantry"}).
		WithSpec(corev1ac.ServiceSpec().WithClusterIP(m.cfg.DNSIP().String()).WithPorts(ports...))
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	slice := discoveryv1ac.EndpointSlice(dnsService+"-gantry", dnsNamespace).
		WithLabels(map[string]string{
			discoveryv1.LabelServiceName: dnsService,
			discoveryv1.LabelManagedBy:   "gantry.io",
		}).
		WithAddressType(discoveryv1.AddressTypeIPv4).
		WithEndpoints(discoveryv1ac.Endpoint().WithAddresses(m.cfg.NodeIP.String()).
			WithConditions(discoveryv1ac.EndpointConditions().WithReady(true)).WithNodeName(m.cfg.NodeName)).
		WithPorts(
			discoveryv1ac.EndpointPort().WithName("dns").WithProtocol(udp).WithPort(53),
			discoveryv1ac.EndpointPort().WithName("dns-tcp").WithProtocol(tcp).WithPort(53),
		)
	// kube-system appears shortly after the API server is ready: retry until it is there.
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, role, apply); err != nil {
			return retry(err)
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, binding, apply); err != nil {
			return retry(err)
		}
		if _, err := cs.CoreV1().Services(dnsNamespace).Apply(ctx, svc, apply); err != nil {
			return retry(err)
		}
		if _, err := cs.DiscoveryV1().EndpointSlices(dnsNamespace).Apply(ctx, slice, apply); err != nil {
			return retry(err)
		}
		// Pods cannot be created in a namespace before its default service account exists: wait
		// for the controller manager to make the first one, so that "ready" means ready for work.
		if _, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return retry(err)
		}
		return true, nil
	})
}

func retry(err error) (bool, error) {
	klog.V(2).InfoS("Bootstrap will retry", "err", err)
	return false, nil
}

func (m *machine) DNS(ctx context.Context, ready func()) error {
	cs, err := m.client("dns")
	if err != nil {
		return err
	}
	upstreams, err := dns.UpstreamsFromResolvConf("/etc/resolv.conf", m.cfg.NodeIP.String())
	if err != nil {
		klog.InfoS("No upstream resolvers; names outside the cluster will not resolve", "err", err)
	}
	srv, err := dns.New(dns.Config{
		Domain:    m.cfg.ClusterDomain,
		Listen:    []string{net.JoinHostPort(m.cfg.NodeIP.String(), "53")},
		Upstreams: upstreams,
	}, cs)
	if err != nil {
		return err
	}
	return srv.Run(ctx, ready)
}

// OpenShiftAPI serves the OpenShift API groups on the node IP and registers
// them with kube-apiserver's aggregator.
func (m *machine) OpenShiftAPI(ctx context.Context) error {
	k := m.certs
	srv, err := apiserver.New(apiserver.Config{
		BindAddress:  m.cfg.NodeIP,
		Port:         OpenShiftAPIPort,
		CertFile:     k.OpenShiftAPIServing.CertFile,
		KeyFile:      k.OpenShiftAPIServing.KeyFile,
		Kubeconfig:   m.cfg.kubeconfig("openshift-apiserver"),
		EtcdServers:  []string{etcdClientURL},
		EtcdCAFile:   k.EtcdCA.CertFile,
		EtcdCertFile: k.OpenShiftAPIEtcd.CertFile,
		EtcdKeyFile:  k.OpenShiftAPIEtcd.KeyFile,
		Images: apiserver.ImageConfig{
			InternalRegistryHostname:   m.cfg.RegistryAddr,
			AllowedRegistriesForImport: m.cfg.AllowedRegistriesForImport,
		},
		Projects: apiserver.ProjectConfig{
			RequestMessage:  m.cfg.ProjectRequestMessage,
			RequestTemplate: m.cfg.ProjectRequestTemplate,
			PullSecretWait:  10 * time.Second,
		},
		// Routes created without a host get <name>-<namespace>.<suffix>, the suffix the node's
		// router serves and its default certificate covers.
		Routes:              apiserver.RouteConfig{Subdomain: m.cfg.RouterSuffix()},
		Version:             m.cfg.Version,
		AdmissionConfigFile: m.cfg.admissionConfigFile(),
	})
	if err != nil {
		return err
	}
	rc, err := m.cfg.restConfig("openshift-apiserver")
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	agg, err := aggregator.NewForConfig(rc)
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(k.CA.CertFile)
	if err != nil {
		return err
	}
	reg := apiserver.Registration{Namespace: "openshift-apiserver", Service: "api", IP: m.cfg.NodeIP, Port: OpenShiftAPIPort, CABundle: ca}
	go func() {
		err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
			if err := apiserver.Register(ctx, cs, agg, reg); err != nil {
				klog.V(2).InfoS("Registering the OpenShift API will retry", "err", err)
				return false, nil
			}
			return true, nil
		})
		if err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "Register the OpenShift API")
		}
	}()
	return srv.Run(ctx)
}

func (m *machine) RemovePods(ctx context.Context) error {
	cri, err := node.DialCRI(m.cfg.layout().ContainerdSocket())
	if err != nil {
		return err
	}
	defer cri.Close()
	n, err := cri.RemoveAllPods(ctx)
	klog.InfoS("Removed pod sandboxes", "count", n)
	return err
}

// Cleanup takes away what the node left on the machine: containerd shims, mounts under the data
// directory, iptables chains, the pod bridge, the node IP if Gantry added it, and empty pod cgroups.
func Cleanup(c *Config, removeNodeIP bool) error {
	var errs []error
	if _, err := node.KillShims(c.layout().ContainerdSocket()); err != nil {
		errs = append(errs, err)
	}
	if _, err := node.UnmountUnder(c.DataDir); err != nil {
		errs = append(errs, err)
	}
	if err := node.RemoveChains(node.ChainPrefixes); err != nil {
		errs = append(errs, err)
	}
	if err := node.DeleteLinks(node.BridgeName); err != nil {
		errs = append(errs, err)
	}
	if removeNodeIP {
		if err := node.RemoveNodeIP(c.NodeIP); err != nil {
			errs = append(errs, err)
		}
	}
	node.RemoveCgroups()
	return errors.Join(errs...)
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	// Debian puts runc and iptables in sbin, which a non-login PATH may lack.
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}
