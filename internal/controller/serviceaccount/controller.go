// Package serviceaccount gives every project the service accounts, role
// bindings and registry credentials of an OpenShift project (seed 004,
// "Service accounts"):
//
//   - service accounts builder and deployer (Kubernetes makes default);
//   - role bindings system:image-pullers (every service account of the
//     project may pull its images), system:image-builders (builder pushes and
//     records builds) and system:deployers (deployer runs deployments);
//   - for every service account of the namespace (default, builder, deployer
//     and those users or components create): a token Secret
//     (kubernetes.io/service-account-token, filled by Kubernetes' token
//     controller) and a dockercfg Secret <sa>-dockercfg-<5 random> holding that
//     token for every registry host, listed in the account's secrets and
//     imagePullSecrets, so pods pull from the integrated registry and builds
//     push to it.
//
// It works in every namespace, as OpenShift does. It is level-based: a sync
// of a namespace brings back whatever is missing (a deleted binding or
// secret is recreated), adds missing subjects to bindings without removing any,
// and leaves bindings annotated rbac.authorization.kubernetes.io/autoupdate=false
// alone. Objects that are already right are not written.
package serviceaccount

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Names of what the controller makes in every namespace.
const (
	Default  = "default"
	Builder  = "builder"
	Deployer = "deployer"

	ImagePullersBinding  = "system:image-pullers"
	ImageBuildersBinding = "system:image-builders"
	DeployersBinding     = "system:deployers"

	// TokenSecretAnnotation on a dockercfg secret names the token secret
	// whose token it carries (as OpenShift's).
	TokenSecretAnnotation = "openshift.io/token-secret.name"

	// dockercfgUser and dockercfgEmail are what OpenShift writes.
	dockercfgUser  = "serviceaccount"
	dockercfgEmail = "serviceaccount@example.org"
)

// Options configures the controller.
type Options struct {
	// RegistryHosts are the registries ("127.0.0.1:5000") the dockercfg
	// secrets log in to. With none, no dockercfg secrets are made.
	RegistryHosts []string
	// Workers is how many namespaces are synced at once (default 2).
	Workers int
}

// Run syncs every namespace until ctx is done. kube needs to read and write
// namespaces' service accounts, secrets and role bindings, and to bind
// system:image-puller, system:image-builder and system:deployer.
func Run(ctx context.Context, kube kubernetes.Interface, opts Options) error {
	factory := informers.NewSharedInformerFactory(kube, 0)
	c := newController(kube, factory, opts)
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("service account controller: caches did not sync: %w", ctx.Err())
	}
	c.run(ctx, opts.Workers)
	return nil
}

type controller struct {
	kube       kubernetes.Interface
	hosts      []string
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	secrets    corelisters.SecretLister
	bindings   rbaclisters.RoleBindingLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
}

func newController(kube kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *controller {
	hosts := slices.Clone(opts.RegistryHosts)
	slices.Sort(hosts)
	c := &controller{
		kube:       kube,
		hosts:      slices.Compact(hosts),
		namespaces: factory.Core().V1().Namespaces().Lister(),
		accounts:   factory.Core().V1().ServiceAccounts().Lister(),
		secrets:    factory.Core().V1().Secrets().Lister(),
		bindings:   factory.Rbac().V1().RoleBindings().Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "gantry-serviceaccounts"}),
	}
	handle := func(inf cache.SharedIndexInformer, relevant func(obj interface{}) bool, key func(obj interface{}) string) {
		enqueue := func(obj interface{}) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if relevant(obj) {
				c.queue.Add(key(obj))
			}
		}
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue,
			UpdateFunc: func(_, obj interface{}) { enqueue(obj) },
			DeleteFunc: enqueue,
		})
		c.synced = append(c.synced, inf.HasSynced)
	}
	namespaceOf := func(obj interface{}) string {
		m, err := metaNamespace(obj)
		if err != nil {
			return ""
		}
		return m
	}
	handle(factory.Core().V1().Namespaces().Informer(),
		func(obj interface{}) bool { _, ok := obj.(*corev1.Namespace); return ok },
		func(obj interface{}) string { return obj.(*corev1.Namespace).Name })
	handle(factory.Core().V1().ServiceAccounts().Informer(),
		func(obj interface{}) bool {
			_, ok := obj.(*corev1.ServiceAccount)
			return ok
		}, namespaceOf)
	handle(factory.Core().V1().Secrets().Informer(),
		func(obj interface{}) bool {
			s, ok := obj.(*corev1.Secret)
			return ok && (s.Type == corev1.SecretTypeServiceAccountToken || s.Type == corev1.SecretTypeDockercfg) &&
				s.Annotations[corev1.ServiceAccountNameKey] != ""
		}, namespaceOf)
	handle(factory.Rbac().V1().RoleBindings().Informer(),
		func(obj interface{}) bool {
			b, ok := obj.(*rbacv1.RoleBinding)
			return ok && (b.Name == ImagePullersBinding || b.Name == ImageBuildersBinding || b.Name == DeployersBinding)
		}, namespaceOf)
	return c
}

func metaNamespace(obj interface{}) (string, error) {
	type namespaced interface{ GetNamespace() string }
	if n, ok := obj.(namespaced); ok {
		return n.GetNamespace(), nil
	}
	return "", fmt.Errorf("%T has no namespace", obj)
}

func (c *controller) run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	if workers <= 0 {
		workers = 2
	}
	klog.FromContext(ctx).Info("Starting the service account controller", "registries", c.hosts)
	for range workers {
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			for c.processNextWorkItem(ctx) {
			}
		}, time.Second)
	}
	<-ctx.Done()
}

func (c *controller) processNextWorkItem(ctx context.Context) bool {
	ns, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(ns)
	if err := c.sync(ctx, ns); err != nil {
		klog.FromContext(ctx).V(2).Info("Service accounts of a namespace will be synced again", "namespace", ns, "err", err)
		c.queue.AddRateLimited(ns)
		return true
	}
	c.queue.Forget(ns)
	return true
}

// sync brings one namespace's service accounts, bindings and secrets to
// what they should be.
func (c *controller) sync(ctx context.Context, ns string) error {
	if ns == "" {
		return nil
	}
	n, err := c.namespaces.Get(ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.Status.Phase == corev1.NamespaceTerminating || n.DeletionTimestamp != nil {
		return nil // nothing new may be created in it
	}
	var errs []error
	for _, name := range []string{Builder, Deployer} {
		if err := c.ensureAccount(ctx, ns, name); err != nil {
			errs = append(errs, err)
		}
	}
	for _, b := range bindings(ns) {
		if err := c.ensureBinding(ctx, b); err != nil {
			errs = append(errs, err)
		}
	}
	// Every account, as on OpenShift: a pod of any service account pulls
	// the project's images with its own credentials. (An account created
	// later brings the namespace back here.)
	accounts, err := c.accounts.ServiceAccounts(ns).List(labels.Everything())
	if err != nil {
		errs = append(errs, err)
	}
	slices.SortFunc(accounts, func(a, b *corev1.ServiceAccount) int { return strings.Compare(a.Name, b.Name) })
	for _, sa := range accounts {
		if sa.DeletionTimestamp != nil {
			continue
		}
		if err := c.ensureSecrets(ctx, sa); err != nil {
			errs = append(errs, fmt.Errorf("secrets of service account %s/%s: %w", ns, sa.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (c *controller) ensureAccount(ctx context.Context, ns, name string) error {
	if _, err := c.accounts.ServiceAccounts(ns).Get(name); !apierrors.IsNotFound(err) {
		return err
	}
	_, err := c.kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create service account %s/%s: %w", ns, name, err)
	}
	return nil
}

// bindings are the role bindings every namespace gets.
func bindings(ns string) []*rbacv1.RoleBinding {
	b := func(name, role string, subject rbacv1.Subject) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
				Annotations: map[string]string{rbacv1.AutoUpdateAnnotationKey: "true"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{subject},
		}
	}
	sa := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
	}
	return []*rbacv1.RoleBinding{
		b(ImagePullersBinding, "system:image-puller",
			rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:serviceaccounts:" + ns}),
		b(ImageBuildersBinding, "system:image-builder", sa(Builder)),
		b(DeployersBinding, "system:deployer", sa(Deployer)),
	}
}

// ensureBinding creates a missing binding and adds missing subjects to an
// existing one; it never removes subjects, and leaves alone a binding
// annotated autoupdate=false or one whose role a user changed.
func (c *controller) ensureBinding(ctx context.Context, want *rbacv1.RoleBinding) error {
	cur, err := c.bindings.RoleBindings(want.Namespace).Get(want.Name)
	if apierrors.IsNotFound(err) {
		_, err = c.kube.RbacV1().RoleBindings(want.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create rolebinding %s/%s: %w", want.Namespace, want.Name, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if cur.Annotations[rbacv1.AutoUpdateAnnotationKey] == "false" || cur.RoleRef != want.RoleRef {
		return nil
	}
	var missing []rbacv1.Subject
	for _, s := range want.Subjects {
		if !slices.Contains(cur.Subjects, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Subjects = append(upd.Subjects, missing...)
	if _, err := c.kube.RbacV1().RoleBindings(want.Namespace).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("add subjects to rolebinding %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

// ensureSecrets gives sa a token secret, once Kubernetes has filled it a
// dockercfg secret with that token, and references to both.
func (c *controller) ensureSecrets(ctx context.Context, sa *corev1.ServiceAccount) error {
	token, err := c.tokenSecret(ctx, sa)
	if err != nil || token == nil {
		return err
	}
	refs := []string{token.Name}
	var pull []string
	if len(token.Data[corev1.ServiceAccountTokenKey]) > 0 && len(c.hosts) > 0 {
		cfg, err := c.dockercfgSecret(ctx, sa, token)
		if err != nil {
			return err
		}
		refs = append(refs, cfg.Name)
		pull = []string{cfg.Name}
	}
	return c.ensureReferences(ctx, sa, refs, pull)
}

// owned lists the secrets of a type that belong to sa (by the annotations
// Kubernetes' token controller also uses), oldest name first. fromAPI reads
// them from kube-apiserver rather than the cache: used before creating one,
// so that a stale cache never leads to a second secret.
func (c *controller) owned(ctx context.Context, sa *corev1.ServiceAccount, typ corev1.SecretType, fromAPI bool) ([]*corev1.Secret, error) {
	var all []*corev1.Secret
	if fromAPI {
		list, err := c.kube.CoreV1().Secrets(sa.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "type=" + string(typ)})
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			all = append(all, &list.Items[i])
		}
	} else {
		var err error
		if all, err = c.secrets.Secrets(sa.Namespace).List(labels.Everything()); err != nil {
			return nil, err
		}
	}
	var out []*corev1.Secret
	for _, s := range all {
		uid := s.Annotations[corev1.ServiceAccountUIDKey]
		if s.Type == typ && s.DeletionTimestamp == nil && s.Annotations[corev1.ServiceAccountNameKey] == sa.Name && (uid == "" || uid == string(sa.UID)) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// tokenSecret returns the account's token secret, preferring one Kubernetes
// has filled, and creates one when there is none. It returns nil while the
// only one is still empty.
func (c *controller) tokenSecret(ctx context.Context, sa *corev1.ServiceAccount) (*corev1.Secret, error) {
	tokens, err := c.owned(ctx, sa, corev1.SecretTypeServiceAccountToken, false)
	if err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		if tokens, err = c.owned(ctx, sa, corev1.SecretTypeServiceAccountToken, true); err != nil {
			return nil, err
		}
	}
	for _, t := range tokens {
		if len(t.Data[corev1.ServiceAccountTokenKey]) > 0 {
			return t, nil
		}
	}
	if len(tokens) > 0 {
		return tokens[0], nil // Kubernetes fills it; its update brings us back
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: sa.Name + "-token-" + utilrand.String(5), Namespace: sa.Namespace,
			Annotations: map[string]string{corev1.ServiceAccountNameKey: sa.Name, corev1.ServiceAccountUIDKey: string(sa.UID)},
		},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	created, err := c.kube.CoreV1().Secrets(sa.Namespace).Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create token secret: %w", err)
	}
	return created, nil
}

// dockercfgSecret returns the account's dockercfg secret, created or updated
// to hold token for every registry host.
func (c *controller) dockercfgSecret(ctx context.Context, sa *corev1.ServiceAccount, token *corev1.Secret) (*corev1.Secret, error) {
	data, err := dockercfg(c.hosts, string(token.Data[corev1.ServiceAccountTokenKey]))
	if err != nil {
		return nil, err
	}
	cfgs, err := c.owned(ctx, sa, corev1.SecretTypeDockercfg, false)
	if err != nil {
		return nil, err
	}
	if len(cfgs) == 0 {
		if cfgs, err = c.owned(ctx, sa, corev1.SecretTypeDockercfg, true); err != nil {
			return nil, err
		}
	}
	if len(cfgs) == 0 {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: sa.Name + "-dockercfg-" + utilrand.String(5), Namespace: sa.Namespace,
				Annotations: map[string]string{
					corev1.ServiceAccountNameKey: sa.Name, corev1.ServiceAccountUIDKey: string(sa.UID),
					TokenSecretAnnotation: token.Name,
				},
				// Deleting the account deletes its dockercfg secret.
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ServiceAccount", Name: sa.Name, UID: sa.UID}},
			},
			Type: corev1.SecretTypeDockercfg,
			Data: map[string][]byte{corev1.DockerConfigKey: data},
		}
		created, err := c.kube.CoreV1().Secrets(sa.Namespace).Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("create dockercfg secret: %w", err)
		}
		return created, nil
	}
	cur := cfgs[0]
	if string(cur.Data[corev1.DockerConfigKey]) == string(data) && cur.Annotations[TokenSecretAnnotation] == token.Name {
		return cur, nil
	}
	upd := cur.DeepCopy()
	if upd.Data == nil {
		upd.Data = map[string][]byte{}
	}
	upd.Data[corev1.DockerConfigKey] = data
	upd.Annotations[TokenSecretAnnotation] = token.Name
	updated, err := c.kube.CoreV1().Secrets(sa.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update dockercfg secret %s: %w", cur.Name, err)
	}
	return updated, nil
}

// dockercfgEntry is one registry's login in a .dockercfg file.
type dockercfgEntry struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
	Auth     string `json:"auth"`
}

// dockercfg is the .dockercfg content logging in to every host with token.
func dockercfg(hosts []string, token string) ([]byte, error) {
	cfg := map[string]dockercfgEntry{}
	for _, h := range hosts {
		cfg[h] = dockercfgEntry{
			Username: dockercfgUser, Password: token, Email: dockercfgEmail,
			Auth: base64.StdEncoding.EncodeToString([]byte(dockercfgUser + ":" + token)),
		}
	}
	return json.Marshal(cfg) // map keys are sorted: the same hosts give the same bytes
}

// ensureReferences lists the secrets in the account's secrets and pull the
// dockercfg in its imagePullSecrets. References to our secrets that no
// longer exist (a user deleted them) are dropped; others are kept.
func (c *controller) ensureReferences(ctx context.Context, sa *corev1.ServiceAccount, secrets, pull []string) error {
	stale := func(name string) bool {
		if slices.Contains(secrets, name) {
			return false
		}
		if !strings.HasPrefix(name, sa.Name+"-token-") && !strings.HasPrefix(name, sa.Name+"-dockercfg-") {
			return false
		}
		_, err := c.secrets.Secrets(sa.Namespace).Get(name)
		return apierrors.IsNotFound(err)
	}
	upd := sa.DeepCopy()
	upd.Secrets = slices.DeleteFunc(upd.Secrets, func(r corev1.ObjectReference) bool { return stale(r.Name) })
	upd.ImagePullSecrets = slices.DeleteFunc(upd.ImagePullSecrets, func(r corev1.LocalObjectReference) bool { return stale(r.Name) })
	for _, name := range secrets {
		if !slices.ContainsFunc(upd.Secrets, func(r corev1.ObjectReference) bool { return r.Name == name }) {
			upd.Secrets = append(upd.Secrets, corev1.ObjectReference{Name: name})
		}
	}
	for _, name := range pull {
		if !slices.ContainsFunc(upd.ImagePullSecrets, func(r corev1.LocalObjectReference) bool { return r.Name == name }) {
			upd.ImagePullSecrets = append(upd.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
		}
	}
	if slices.Equal(upd.Secrets, sa.Secrets) && slices.Equal(upd.ImagePullSecrets, sa.ImagePullSecrets) {
		return nil
	}
	if _, err := c.kube.CoreV1().ServiceAccounts(sa.Namespace).Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update secret references: %w", err)
	}
	return nil
}
