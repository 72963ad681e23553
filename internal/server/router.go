package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"

	routeclientset "github.com/openshift/client-go/route/clientset/versioned"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gantry-dev/gantry/internal/authz"
	"github.com/gantry-dev/gantry/internal/router/model"
	"github.com/gantry-dev/gantry/internal/router/run"
)

// RouterName is the routerName the node's router writes into route status.
const RouterName = "default"

// RouterStatsPort is where the node's router serves /healthz and /metrics, on loopback.
const RouterStatsPort = 1936

// Router runs the same router as `gantry router`, in process, on the node IP: its identity
// (RouterUser) gets the system:router role, routes are watched at the OpenShift API directly,
// and the default certificate is the cluster CA's wildcard for the routing suffix, so clients
// that trust the cluster CA accept it for every generated host.
func (m *machine) Router(ctx context.Context, ready func()) error {
	admin, err := m.client("admin")
	if err != nil {
		return err
	}
	if err := retryFor(ctx, "grant the router the system:router role", func(ctx context.Context) error {
		return applyRouterRBAC(ctx, admin)
	}); err != nil {
		return err
	}
	cfg, err := m.routerConfig()
	if err != nil {
		return err
	}
	r, err := run.New(cfg)
	if err != nil {
		return err
	}
	return r.Run(ctx, ready)
}

func (m *machine) routerConfig() (run.Config, error) {
	c := m.cfg
	var rc run.Config
	kc, err := c.restConfig("router")
	if err != nil {
		return rc, err
	}
	kc.QPS, kc.Burst = 50, 100
	if rc.Kube, err = kubernetes.NewForConfig(kc); err != nil {
		return rc, err
	}
	oc, err := c.openShiftAPIConfig("router")
	if err != nil {
		return rc, err
	}
	oc.QPS, oc.Burst = 50, 100
	if rc.Routes, err = routeclientset.NewForConfig(oc); err != nil {
		return rc, err
	}
	cert, err := tls.LoadX509KeyPair(m.certs.RouterServing.CertFile, m.certs.RouterServing.KeyFile)
	if err != nil {
		return rc, fmt.Errorf("router default certificate: %w", err)
	}
	ca, err := os.ReadFile(m.certs.CA.CertFile)
	if err != nil {
		return rc, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	node := c.NodeIP.String()
	rc.Model = model.Config{RouterName: RouterName, Subdomain: c.RouterSuffix(), RouteSelector: c.RouterRouteSelector}
	rc.HTTPAddr = net.JoinHostPort(node, strconv.Itoa(c.RouterHTTPPort))
	rc.HTTPSAddr = net.JoinHostPort(node, strconv.Itoa(c.RouterHTTPSPort))
	rc.StatsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(RouterStatsPort))
	rc.DefaultCertificate = &cert
	rc.RootCAs = pool // reencrypt routes to services serving certificates of the cluster CA
	return rc, nil
}

// applyRouterRBAC binds RouterUser to the system:router cluster role.
func applyRouterRBAC(ctx context.Context, cs kubernetes.Interface) error {
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	binding := rbacv1ac.ClusterRoleBinding("gantry:router").WithLabels(map[string]string{"app.kubernetes.io/managed-by": "gantry"}).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(authz.Router)).
		WithSubjects(rbacv1ac.Subject().WithAPIGroup(rbacv1.GroupName).WithKind(rbacv1.UserKind).WithName(RouterUser))
	_, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, binding, apply)
	return err
}
