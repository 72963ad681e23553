package registry

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
)

// Cache lifetimes of the Kubernetes-backed authenticator and authorizer.
// They match kube-apiserver's own webhook caches: a revoked token or a
// removed role binding stops working within this long.
const (
	allowTTL   = 10 * time.Second
	denyTTL    = 2 * time.Second
	cacheLimit = 8192
)

// KubeAuth authenticates tokens with TokenReviews and authorizes with
// SubjectAccessReviews against kube-apiserver (which consults the OAuth
// server for Gantry tokens, and RBAC), caching answers briefly (see
// reviewCache). Its client needs the system:auth-delegator role.
type KubeAuth struct {
	client kubernetes.Interface
	tokens *reviewCache[tokenEntry]
	access *reviewCache[bool]
}

type tokenEntry struct {
	user user.Info
	ok   bool
}

// NewKubeAuth returns a KubeAuth using client.
func NewKubeAuth(client kubernetes.Interface) *KubeAuth {
	return newKubeAuth(client, time.Now)
}

func newKubeAuth(client kubernetes.Interface, now func() time.Time) *KubeAuth {
	return &KubeAuth{client: client, tokens: newReviewCache[tokenEntry](now, cacheLimit), access: newReviewCache[bool](now, cacheLimit)}
}

// AuthenticateToken implements Authenticator.
func (k *KubeAuth) AuthenticateToken(ctx context.Context, token string) (user.Info, bool, error) {
	key := sha256.Sum256([]byte(token))
	e, err := k.tokens.get(ctx, string(key[:]), func(ctx context.Context) (tokenEntry, time.Duration, error) {
		review, err := k.client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token},
		}, metav1.CreateOptions{})
		if err != nil {
			return tokenEntry{}, 0, fmt.Errorf("token review: %w", err)
		}
		if !review.Status.Authenticated {
			return tokenEntry{}, denyTTL, nil
		}
		u := review.Status.User
		info := &user.DefaultInfo{Name: u.Username, UID: u.UID, Groups: u.Groups}
		if len(u.Extra) > 0 {
			info.Extra = map[string][]string{}
			for k, v := range u.Extra {
				info.Extra[k] = v
			}
		}
		return tokenEntry{user: info, ok: true}, allowTTL, nil
	})
	return e.user, e.ok, err
}

// Allowed implements Authorizer.
func (k *KubeAuth) Allowed(ctx context.Context, u user.Info, attrs authorizationv1.ResourceAttributes) (bool, error) {
	return k.access.get(ctx, accessKey(u, attrs), func(ctx context.Context) (bool, time.Duration, error) {
		extra := map[string]authorizationv1.ExtraValue{}
		for key, v := range u.GetExtra() {
			extra[key] = v
		}
		a := attrs
		sar, err := k.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups(), Extra: extra, ResourceAttributes: &a,
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return false, 0, fmt.Errorf("subject access review: %w", err)
		}
		if sar.Status.Allowed {
			return true, allowTTL, nil
		}
		return false, denyTTL, nil
	})
}

func accessKey(u user.Info, a authorizationv1.ResourceAttributes) string {
	groups := append([]string(nil), u.GetGroups()...)
	sort.Strings(groups)
	var extra []string
	for k, v := range u.GetExtra() {
		extra = append(extra, k+"="+strings.Join(v, ","))
	}
	sort.Strings(extra)
	return strings.Join([]string{u.GetName(), u.GetUID(), strings.Join(groups, ","), strings.Join(extra, ";"),
		a.Namespace, a.Verb, a.Group, a.Resource, a.Subresource, a.Name}, "\x00")
}
