package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gantry-dev/gantry/internal/images"
)

// PushEchoImage compiles test/images/echo as a static binary, builds a one-layer image of it (entrypoint
// /echo) and pushes it to the cluster's registry as <namespace>/echo:tag, with a token of a pusher
// service account of that namespace (see RegistryToken). Pods of the namespace pull it with their
// service account's pull secret. It returns the image reference.
func PushEchoImage(ctx context.Context, c *Cluster, namespace, tag string) (string, error) {
	return PushTestImage(ctx, c, "echo", namespace, tag)
}

// PushTestImage is PushEchoImage for any command under test/images: test/images/<name> as a static
// binary /<name>, pushed as <namespace>/<name>:tag.
func PushTestImage(ctx context.Context, c *Cluster, name, namespace, tag string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "gantry-"+name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./test/images/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", name, err, out)
	}
	img, err := images.FromBinary(bin)
	if err != nil {
		return "", err
	}
	token, err := c.RegistryToken(ctx, namespace)
	if err != nil {
		return "", err
	}
	ref := Registry + "/" + namespace + "/" + name + ":" + tag
	if err := images.Push(ctx, img, ref, &authn.Bearer{Token: token}); err != nil {
		return "", err
	}
	return ref, c.WaitForPullSecret(ctx, namespace)
}

// WaitForPullSecret waits until the namespace's default service account has its registry pull
// secret. Pods get their service account's pull secrets when they are created, and Gantry's
// controllers add the secret a few seconds after the namespace appears: a pod created earlier
// cannot pull the namespace's images.
func (c *Cluster) WaitForPullSecret(ctx context.Context, namespace string) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		sa, err := c.Client.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && len(sa.ImagePullSecrets) > 0, err
	})
}

// RegistryToken returns a token that may push to (and pull from) the registry in namespace,
// which must exist: a token of the service account "pusher", made with the system:image-builder
// role there.
func (c *Cluster) RegistryToken(ctx context.Context, namespace string) (string, error) {
	cs := c.Client
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "pusher"}}
	if _, err := cs.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pusher"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:image-builder"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "pusher", Namespace: namespace}},
	}
	if _, err := cs.RbacV1().RoleBindings(namespace).Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, "pusher", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}
