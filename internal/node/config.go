package node

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	componentbaseconfig "k8s.io/component-base/config/v1alpha1"
	kubeproxyconfig "k8s.io/kube-proxy/config/v1alpha1"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// Layout names the node's files under the data directory.
type Layout struct {
	DataDir string
}

func (l Layout) path(p ...string) string { return filepath.Join(append([]string{l.DataDir}, p...)...) }

func (l Layout) ContainerdDir() string           { return l.path("containerd") }
func (l Layout) ContainerdConfig() string        { return l.path("containerd", "config.toml") }
func (l Layout) ContainerdSocket() string        { return l.path("containerd", "containerd.sock") }
func (l Layout) RegistryHostsDir() string        { return l.path("containerd", "certs.d") }
func (l Layout) CNIConfDir() string              { return l.path("cni", "net.d") }
func (l Layout) CNIStateDir() string             { return l.path("cni", "networks") }
func (l Layout) KubeletDir() string              { return l.path("kubelet") }
func (l Layout) KubeletConfigFile() string       { return l.path("kubelet", "config.yaml") }
func (l Layout) KubeProxyConfigFile() string     { return l.path("kube-proxy", "config.yaml") }
func (l Layout) LogFile(component string) string { return l.path("logs", component+".log") }

// CNIPluginDirs are searched in order for the CNI plugins (Debian installs them in /usr/lib/cni).
var CNIPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// RequiredCNIPlugins are the plugins the node's network uses.
var RequiredCNIPlugins = []string{"bridge", "host-local", "portmap", "loopback"}

// FindCNIPluginDir returns the first directory holding every required plugin.
func FindCNIPluginDir() (string, error) {
	for _, d := range CNIPluginDirs {
		ok := true
		for _, p := range RequiredCNIPlugins {
			if _, err := os.Stat(filepath.Join(d, p)); err != nil {
				ok = false
				break
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", fmt.Errorf("CNI plugins %s not found in %s", strings.Join(RequiredCNIPlugins, ", "), strings.Join(CNIPluginDirs, " or "))
}

// ContainerdOptions configure the node's containerd.
type ContainerdOptions struct {
	SandboxImage string
	RuncPath     string
	CNIBinDir    string
	// Registries maps a registry host:port to the plain-HTTP endpoint containerd pulls it from.
	Registries map[string]string
}

// WriteContainerdConfig writes containerd's config.toml and one hosts.toml per registry.
func (l Layout) WriteContainerdConfig(o ContainerdOptions) error {
	dir := l.ContainerdDir()
	cfg := fmt.Sprintf(`# Written by gantry start; changes are overwritten at the next start.
version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # The sandbox lacks CAP_SYS_RESOURCE: without this every sandbox fails writing oom_score_adj.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = %q
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), l.ContainerdSocket(), filepath.Join(dir, "opt"),
		o.SandboxImage, o.RuncPath, o.CNIBinDir, l.CNIConfDir(), l.RegistryHostsDir())
	if err := writeFile(l.ContainerdConfig(), []byte(cfg)); err != nil {
		return err
	}
	for host, endpoint := range o.Registries {
		hosts := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", endpoint, endpoint)
		if err := writeFile(filepath.Join(l.RegistryHostsDir(), host, "hosts.toml"), []byte(hosts)); err != nil {
			return err
		}
	}
	return nil
}

// BridgeName is the Linux bridge the CNI bridge plugin creates for pods.
const BridgeName = "cni0"

// WriteCNIConfig writes the pod network: a bridge with host-local addresses from podCIDR, masquerading
// traffic that leaves the cluster, and port mappings.
func (l Layout) WriteCNIConfig(podCIDR *net.IPNet) error {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "gantry",
		"plugins": []map[string]any{
			{
				"type":        "bridge",
				"bridge":      BridgeName,
				"isGateway":   true,
				"ipMasq":      true,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": podCIDR.String()}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": l.CNIStateDir(),
				},
			},
			{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(l.CNIConfDir(), "10-gantry.conflist"), b)
}

// KubeletOptions configure the kubelet.
type KubeletOptions struct {
	NodeIP        net.IP
	ClusterDNS    net.IP
	ClusterDomain string
	ClientCAFile  string
	TLSCertFile   string
	TLSKeyFile    string
}

// WriteKubeletConfig writes the kubelet's KubeletConfiguration.
func (l Layout) WriteKubeletConfig(o KubeletOptions) error {
	c := kubeletconfig.KubeletConfiguration{
		TypeMeta:           metav1.TypeMeta{APIVersion: "kubelet.config.k8s.io/v1beta1", Kind: "KubeletConfiguration"},
		Address:            o.NodeIP.String(),
		Port:               10250,
		HealthzBindAddress: "127.0.0.1",
		HealthzPort:        ptr.To[int32](10248),
		TLSCertFile:        o.TLSCertFile,
		TLSPrivateKeyFile:  o.TLSKeyFile,
		Authentication: kubeletconfig.KubeletAuthentication{
			Anonymous: kubeletconfig.KubeletAnonymousAuthentication{Enabled: ptr.To(false)},
			Webhook:   kubeletconfig.KubeletWebhookAuthentication{Enabled: ptr.To(true)},
			X509:      kubeletconfig.KubeletX509Authentication{ClientCAFile: o.ClientCAFile},
		},
		Authorization:            kubeletconfig.KubeletAuthorization{Mode: kubeletconfig.KubeletAuthorizationModeWebhook},
		CgroupDriver:             "cgroupfs",
		FailSwapOn:               ptr.To(false),
		FailCgroupV1:             ptr.To(false),
		ContainerRuntimeEndpoint: "unix://" + l.ContainerdSocket(),
		ClusterDNS:               []string{o.ClusterDNS.String()},
		ClusterDomain:            o.ClusterDomain,
		// A small shared machine must not start evicting pods because a build filled the disk a little.
		EvictionHard:           map[string]string{"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
		EnforceNodeAllocatable: []string{},
		SerializeImagePulls:    ptr.To(false),
		// Report status often so a new node turns Ready quickly.
		NodeStatusUpdateFrequency: metav1.Duration{Duration: 10 * time.Second},
		ImageMinimumGCAge:         metav1.Duration{Duration: 2 * time.Minute},
		ResolverConfig:            ptr.To(resolvConf()),
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return writeFile(l.KubeletConfigFile(), b)
}

// resolvConf is the file pods with dnsPolicy Default copy; systemd-resolved's stub points at
// 127.0.0.53, which pods cannot reach, so its upstream file is used when present.
func resolvConf() string {
	if _, err := os.Stat("/run/systemd/resolve/resolv.conf"); err == nil {
		return "/run/systemd/resolve/resolv.conf"
	}
	return "/etc/resolv.conf"
}

// KubeProxyOptions configure kube-proxy.
type KubeProxyOptions struct {
	Kubeconfig  string
	NodeName    string
	ClusterCIDR string
}

// WriteKubeProxyConfig writes kube-proxy's KubeProxyConfiguration (iptables mode).
func (l Layout) WriteKubeProxyConfig(o KubeProxyOptions) error {
	c := kubeproxyconfig.KubeProxyConfiguration{
		TypeMeta:           metav1.TypeMeta{APIVersion: "kubeproxy.config.k8s.io/v1alpha1", Kind: "KubeProxyConfiguration"},
		ClientConnection:   componentbaseconfig.ClientConnectionConfiguration{Kubeconfig: o.Kubeconfig},
		HostnameOverride:   o.NodeName,
		Mode:               "iptables",
		ClusterCIDR:        o.ClusterCIDR,
		HealthzBindAddress: "127.0.0.1:10256",
		MetricsBindAddress: "127.0.0.1:10249",
		// Leave the machine's conntrack sysctls alone: they are host-wide and need privileges the
		// sandbox may not have.
		Conntrack: kubeproxyconfig.KubeProxyConntrackConfiguration{
			MaxPerCore:            ptr.To[int32](0),
			TCPEstablishedTimeout: &metav1.Duration{},
			TCPCloseWaitTimeout:   &metav1.Duration{},
		},
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return writeFile(l.KubeProxyConfigFile(), b)
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
