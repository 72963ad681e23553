package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/gantry-dev/gantry/internal/admission"
	"github.com/gantry-dev/gantry/internal/admission/imagelookup"
)

// Admission serves Gantry's admission webhooks on the node IP (AdmissionPort) with its own
// identity (AdmissionUser, which may only read image streams), probes them over TLS with the
// cluster CA, then registers their configuration as the admin and reports ready.
func (m *machine) Admission(ctx context.Context, ready func()) error {
	admin, err := m.client("admin")
	if err != nil {
		return err
	}
	if err := retryFor(ctx, "grant the admission webhooks read access to image streams", func(ctx context.Context) error {
		return applyAdmissionRBAC(ctx, admin)
	}); err != nil {
		return err
	}
	rc, err := m.cfg.openShiftAPIConfig("admission")
	if err != nil {
		return err
	}
	images, err := imageclient.NewForConfig(rc)
	if err != nil {
		return err
	}
	factory := imageinformers.NewSharedInformerFactory(images, 10*time.Minute)
	streams := factory.Image().V1().ImageStreams()
	cached := &imagelookup.CachedStreams{Lister: streams.Lister(), Synced: streams.Informer().HasSynced, Client: images.ImageV1()}
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	srv, err := admission.New(admission.Config{
		Addr:     net.JoinHostPort(m.cfg.NodeIP.String(), fmt.Sprint(AdmissionPort)),
		CertFile: m.certs.AdmissionServing.CertFile, KeyFile: m.certs.AdmissionServing.KeyFile,
		ImageLookup:    &imagelookup.Handler{Streams: cached},
		ClientCAFile:   m.certs.CA.CertFile,
		AllowedClients: []string{AdmissionWebhookClientUser},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx, nil) }()
	fail := func(err error) error {
		cancel()
		if runErr := <-errc; runErr != nil {
			return runErr // the server's own failure (a port taken) says more
		}
		return err
	}

	ca, err := os.ReadFile(m.certs.CA.CertFile)
	if err != nil {
		return fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	url := m.cfg.AdmissionURL()
	if err := retryFor(ctx, "probe the admission webhooks at "+url, func(ctx context.Context) error {
		return admission.Probe(ctx, url, pool)
	}); err != nil {
		return fail(err)
	}
	if err := retryFor(ctx, "register the image lookup webhook", func(ctx context.Context) error {
		return admission.Register(ctx, admin, admission.ImageLookupConfiguration(url, ca))
	}); err != nil {
		return fail(err)
	}
	ready()
	return <-errc
}

// applyAdmissionRBAC lets AdmissionUser read image streams, and nothing else.
func applyAdmissionRBAC(ctx context.Context, cs kubernetes.Interface) error {
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	labels := map[string]string{"app.kubernetes.io/managed-by": "gantry"}
	role := rbacv1ac.ClusterRole(AdmissionUser).WithLabels(labels).WithRules(
		rbacv1ac.PolicyRule().WithAPIGroups("image.openshift.io").WithResources("imagestreams").WithVerbs("get", "list", "watch"),
	)
	if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, role, apply); err != nil {
		return err
	}
	binding := rbacv1ac.ClusterRoleBinding(AdmissionUser).WithLabels(labels).
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(AdmissionUser)).
		WithSubjects(rbacv1ac.Subject().WithAPIGroup(rbacv1.GroupName).WithKind(rbacv1.UserKind).WithName(AdmissionUser))
	_, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, binding, apply)
	return err
}

// retryFor retries step every half second for up to a minute, returning its last error.
func retryFor(ctx context.Context, what string, step func(context.Context) error) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if last = step(ctx); last != nil {
			klog.V(2).InfoS("Will retry", "step", what, "err", last)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		if last == nil {
			last = err
		}
		return fmt.Errorf("%s: %w", what, last)
	}
	return nil
}
