package serviceaccount

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

const registry = "127.0.0.1:5000"

// fixture is a controller whose caches hold cached and whose fake API holds
// cached plus apiOnly (objects the caches have not seen yet).
type fixture struct {
	t    *testing.T
	kube *fake.Clientset
	c    *controller
}

func newFixture(t *testing.T, hosts []string, cached []runtime.Object, apiOnly ...runtime.Object) *fixture {
	t.Helper()
	kube := fake.NewClientset(append(slices.Clone(cached), apiOnly...)...)
	factory := informers.NewSharedInformerFactory(kube, 0)
	c := newController(kube, factory, Options{RegistryHosts: hosts})
	for _, obj := range cached {
		var err error
		switch o := obj.(type) {
		case *corev1.Namespace:
			err = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(o)
		case *corev1.ServiceAccount:
			err = factory.Core().V1().ServiceAccounts().Informer().GetIndexer().Add(o)
		case *corev1.Secret:
			err = factory.Core().V1().Secrets().Informer().GetIndexer().Add(o)
		case *rbacv1.RoleBinding:
			err = factory.Rbac().V1().RoleBindings().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	kube.ClearActions()
	return &fixture{t: t, kube: kube, c: c}
}

func (f *fixture) sync(ns string) {
	f.t.Helper()
	if err := f.c.sync(f.t.Context(), ns); err != nil {
		f.t.Fatalf("sync %s: %v", ns, err)
	}
}

// writes lists the write actions as "verb resource name".
func (f *fixture) writes() []string {
	var out []string
	for _, a := range f.kube.Actions() {
		switch a.GetVerb() {
		case "create", "update":
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource+" "+nameOf(a.(clienttesting.CreateAction).GetObject()))
		case "delete":
			out = append(out, "delete "+a.GetResource().Resource+" "+a.(clienttesting.DeleteAction).GetName())
		}
	}
	return out
}

func nameOf(obj runtime.Object) string { return obj.(metav1.Object).GetName() }

func ns(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
}

func account(ns, name string, secrets ...string) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "-" + name + "-uid")}}
	for _, s := range secrets {
		sa.Secrets = append(sa.Secrets, corev1.ObjectReference{Name: s})
		if strings.Contains(s, "-dockercfg-") {
			sa.ImagePullSecrets = append(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
	}
	return sa
}

func tokenSecret(sa *corev1.ServiceAccount, name, token string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: sa.Namespace, Name: name, Annotations: map[string]string{
			corev1.ServiceAccountNameKey: sa.Name, corev1.ServiceAccountUIDKey: string(sa.UID)}},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	if token != "" {
		s.Data = map[string][]byte{corev1.ServiceAccountTokenKey: []byte(token)}
	}
	return s
}

func dockercfgSecret(t *testing.T, sa *corev1.ServiceAccount, name, tokenName, token string, hosts ...string) *corev1.Secret {
	t.Helper()
	data, err := dockercfg(hosts, token)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: sa.Namespace, Name: name, Annotations: map[string]string{
			corev1.ServiceAccountNameKey: sa.Name, corev1.ServiceAccountUIDKey: string(sa.UID), TokenSecretAnnotation: tokenName}},
		Type: corev1.SecretTypeDockercfg,
		Data: map[string][]byte{corev1.DockerConfigKey: data},
	}
}

// converged is a namespace "p" with everything in place.
func converged(t *testing.T) []runtime.Object {
	objs := []runtime.Object{ns("p")}
	for _, name := range []string{Default, Builder, Deployer} {
		sa := account("p", name, name+"-token-aaaaa", name+"-dockercfg-bbbbb")
		objs = append(objs, sa, tokenSecret(sa, name+"-token-aaaaa", "tok-"+name),
			dockercfgSecret(t, sa, name+"-dockercfg-bbbbb", name+"-token-aaaaa", "tok-"+name, registry))
	}
	for _, b := range bindings("p") {
		objs = append(objs, b)
	}
	return objs
}

// freshDefault is converged(t) with a new default account in place of the converged one: it has
// only a token secret, which holds token ("": not filled by Kubernetes yet).
func freshDefault(t *testing.T, token string) (*corev1.ServiceAccount, []runtime.Object) {
	sa := account("p", Default)
	objs := slices.DeleteFunc(converged(t), func(o runtime.Object) bool {
		m := o.(metav1.Object)
		return m.GetName() == Default || strings.HasPrefix(m.GetName(), "default-")
	})
	return sa, append(objs, sa, tokenSecret(sa, "default-token-zzzzz", token))
}

func TestCreatesAccountsAndBindingsInANewNamespace(t *testing.T) {
	t.Parallel()
	f := newFixture(t, []string{registry}, []runtime.Object{ns("p"), account("p", Default)})
	f.sync("p")
	w := f.writes()
	for _, want := range []string{
		"create serviceaccounts builder", "create serviceaccounts deployer",
		"create rolebindings system:image-pullers", "create rolebindings system:image-builders", "create rolebindings system:deployers",
	} {
		if !slices.Contains(w, want) {
			t.Errorf("writes %v lack %q", w, want)
		}
	}
	// default exists: it gets a token secret to be filled by Kubernetes.
	if !slices.ContainsFunc(w, func(s string) bool { return strings.HasPrefix(s, "create secrets default-token-") }) {
		t.Errorf("writes %v: no token secret for default", w)
	}
	b, err := f.kube.RbacV1().RoleBindings("p").Get(t.Context(), ImagePullersBinding, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.RoleRef.Name != "system:image-puller" || b.Subjects[0].Kind != rbacv1.GroupKind || b.Subjects[0].Name != "system:serviceaccounts:p" {
		t.Errorf("image pullers binding = %+v %+v", b.RoleRef, b.Subjects)
	}
	b, err = f.kube.RbacV1().RoleBindings("p").Get(t.Context(), ImageBuildersBinding, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.RoleRef.Name != "system:image-builder" || b.Subjects[0] != (rbacv1.Subject{Kind: "ServiceAccount", Namespace: "p", Name: Builder}) {
		t.Errorf("image builders binding = %+v %+v", b.RoleRef, b.Subjects)
	}
	list, err := f.kube.CoreV1().Secrets("p").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Items {
		if s.Type == corev1.SecretTypeDockercfg {
			t.Errorf("dockercfg %s made before the token was filled", s.Name)
		}
		if s.Type == corev1.SecretTypeServiceAccountToken && s.Annotations[corev1.ServiceAccountUIDKey] != "p-default-uid" {
			t.Errorf("token secret annotations = %v", s.Annotations)
		}
	}
}

func TestWaitsForKubernetesToFillTheToken(t *testing.T) {
	t.Parallel()
	_, objs := freshDefault(t, "")
	f := newFixture(t, []string{registry}, objs)
	f.sync("p")
	if w := f.writes(); !slices.Equal(w, []string{"update serviceaccounts default"}) {
		t.Errorf("writes = %v, want only the token secret referenced", w)
	}
	got, _ := f.kube.CoreV1().ServiceAccounts("p").Get(t.Context(), Default, metav1.GetOptions{})
	if len(got.Secrets) != 1 || got.Secrets[0].Name != "default-token-zzzzz" || len(got.ImagePullSecrets) != 0 {
		t.Errorf("default account = %+v", got)
	}
}

func TestMakesTheDockercfgSecretFromTheToken(t *testing.T) {
	t.Parallel()
	sa, objs := freshDefault(t, "s3cret")
	f := newFixture(t, []string{registry, "10.127.0.1:5000"}, objs)
	f.sync("p")
	// (builder's and deployer's secrets are updated for the second host too.)
	w := slices.DeleteFunc(f.writes(), func(s string) bool { return !strings.Contains(s, "default") })
	if len(w) != 2 || !strings.HasPrefix(w[0], "create secrets default-dockercfg-") || w[1] != "update serviceaccounts default" {
		t.Fatalf("writes = %v, want a dockercfg secret and the account updated", w)
	}
	name := strings.TrimPrefix(w[0], "create secrets ")
	if len(strings.TrimPrefix(name, "default-dockercfg-")) != 5 {
		t.Errorf("name %q, want default-dockercfg-<5 random>", name)
	}
	s, err := f.kube.CoreV1().Secrets("p").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != corev1.SecretTypeDockercfg || s.Annotations[TokenSecretAnnotation] != "default-token-zzzzz" ||
		len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != sa.UID {
		t.Errorf("secret = %+v", s.ObjectMeta)
	}
	var cfg map[string]dockercfgEntry
	if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &cfg); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{registry, "10.127.0.1:5000"} {
		e := cfg[h]
		if e.Password != "s3cret" || e.Username != "serviceaccount" || e.Auth != base64.StdEncoding.EncodeToString([]byte("serviceaccount:s3cret")) {
			t.Errorf("entry for %s = %+v", h, e)
		}
	}
	got, _ := f.kube.CoreV1().ServiceAccounts("p").Get(t.Context(), Default, metav1.GetOptions{})
	if len(got.Secrets) != 2 || got.Secrets[1].Name != name || len(got.ImagePullSecrets) != 1 || got.ImagePullSecrets[0].Name != name {
		t.Errorf("account = secrets %v pull %v", got.Secrets, got.ImagePullSecrets)
	}
}

// A service account a user creates gets its registry credentials too, as
// on OpenShift: its pods pull the project's images.
func TestEveryAccountGetsRegistryCredentials(t *testing.T) {
	t.Parallel()
	sa := account("p", "app")
	f := newFixture(t, []string{registry}, append(converged(t), sa, tokenSecret(sa, "app-token-yyyyy", "tok-app")))
	f.sync("p")
	w := f.writes()
	if len(w) != 2 || !strings.HasPrefix(w[0], "create secrets app-dockercfg-") || w[1] != "update serviceaccounts app" {
		t.Fatalf("writes = %v, want app's dockercfg secret and the account updated, nothing else", w)
	}
	got, _ := f.kube.CoreV1().ServiceAccounts("p").Get(t.Context(), "app", metav1.GetOptions{})
	if len(got.ImagePullSecrets) != 1 || got.ImagePullSecrets[0].Name != strings.TrimPrefix(w[0], "create secrets ") {
		t.Errorf("app's pull secrets %v, want its dockercfg secret", got.ImagePullSecrets)
	}
}

func TestDoNothingWhenConverged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, []string{registry}, converged(t))
	f.sync("p")
	if w := f.writes(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
}

func TestRecreatesADeletedDockercfgSecret(t *testing.T) {
	t.Parallel()
	objs := slices.DeleteFunc(converged(t), func(o runtime.Object) bool {
		return o.(metav1.Object).GetName() == "builder-dockercfg-bbbbb"
	})
	f := newFixture(t, []string{registry}, objs)
	f.sync("p")
	w := f.writes()
	if len(w) != 2 || !strings.HasPrefix(w[0], "create secrets builder-dockercfg-") || w[1] != "update serviceaccounts builder" {
		t.Fatalf("writes = %v", w)
	}
	got, _ := f.kube.CoreV1().ServiceAccounts("p").Get(t.Context(), Builder, metav1.GetOptions{})
	name := strings.TrimPrefix(w[0], "create secrets ")
	if len(got.Secrets) != 2 || got.Secrets[0].Name != "builder-token-aaaaa" || got.Secrets[1].Name != name ||
		len(got.ImagePullSecrets) != 1 || got.ImagePullSecrets[0].Name != name {
		t.Errorf("account = secrets %v pull %v, want the deleted secret replaced", got.Secrets, got.ImagePullSecrets)
	}
}

func TestRecreatesADeletedBindingAndKeepsAddedSubjects(t *testing.T) {
	t.Parallel()
	objs := slices.DeleteFunc(converged(t), func(o runtime.Object) bool {
		n := o.(metav1.Object).GetName()
		return n == DeployersBinding || n == ImageBuildersBinding
	})
	builders := bindings("p")[1]
	builders.Subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "alice"}}
	objs = append(objs, builders)
	f := newFixture(t, []string{registry}, objs)
	f.sync("p")
	if w := f.writes(); !slices.Equal(w, []string{"update rolebindings system:image-builders", "create rolebindings system:deployers"}) {
		t.Errorf("writes = %v", w)
	}
	got, _ := f.kube.RbacV1().RoleBindings("p").Get(t.Context(), ImageBuildersBinding, metav1.GetOptions{})
	if len(got.Subjects) != 2 || got.Subjects[0].Name != "alice" || got.Subjects[1].Name != Builder {
		t.Errorf("subjects = %+v, want alice kept and builder added", got.Subjects)
	}
}

func TestLeavesBindingsOptedOutOfUpdates(t *testing.T) {
	t.Parallel()
	objs := slices.DeleteFunc(converged(t), func(o runtime.Object) bool { return o.(metav1.Object).GetName() == ImagePullersBinding })
	pullers := bindings("p")[0]
	pullers.Annotations[rbacv1.AutoUpdateAnnotationKey] = "false"
	pullers.Subjects = nil
	f := newFixture(t, []string{registry}, append(objs, pullers))
	f.sync("p")
	if w := f.writes(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
}

func TestUpdatesDockercfgWhenRegistriesChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, []string{registry, "registry.example.com"}, converged(t))
	f.sync("p")
	w := f.writes()
	if len(w) != 3 {
		t.Fatalf("writes = %v, want the three dockercfg secrets updated", w)
	}
	s, _ := f.kube.CoreV1().Secrets("p").Get(t.Context(), "deployer-dockercfg-bbbbb", metav1.GetOptions{})
	var cfg map[string]dockercfgEntry
	if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["registry.example.com"].Password != "tok-deployer" {
		t.Errorf("dockercfg = %v", cfg)
	}
}

func TestStaleCacheMakesNoSecondSecret(t *testing.T) {
	t.Parallel()
	sa, objs := freshDefault(t, "s3cret")
	// The dockercfg secret exists but the cache has not seen it yet.
	f := newFixture(t, []string{registry}, objs, dockercfgSecret(t, sa, "default-dockercfg-yyyyy", "default-token-zzzzz", "s3cret", registry))
	f.sync("p")
	if w := f.writes(); !slices.Equal(w, []string{"update serviceaccounts default"}) {
		t.Errorf("writes = %v, want the existing secret referenced and nothing created", w)
	}
}

func TestSkipsTerminatingAndMissingNamespaces(t *testing.T) {
	t.Parallel()
	gone := ns("gone")
	gone.Status.Phase = corev1.NamespaceTerminating
	f := newFixture(t, []string{registry}, []runtime.Object{gone, account("gone", Default)})
	f.sync("gone")
	f.sync("never-was")
	if w := f.writes(); len(w) != 0 {
		t.Errorf("writes = %v, want none", w)
	}
}

func TestNoRegistryNoDockercfg(t *testing.T) {
	t.Parallel()
	sa := account("p", Default)
	f := newFixture(t, nil, []runtime.Object{ns("p"), sa, tokenSecret(sa, "default-token-zzzzz", "s3cret")})
	f.sync("p")
	for _, w := range f.writes() {
		if strings.Contains(w, "dockercfg") {
			t.Errorf("write %q without registry hosts", w)
		}
	}
}

// TestRunFollowsEvents runs the informer-driven loop against a fake API:
// a new namespace gets its accounts, a token filled "by Kubernetes" leads to
// a dockercfg secret, and a deleted one comes back.
func TestRunFollowsEvents(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, kube, Options{RegistryHosts: []string{registry}}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if _, err := kube.CoreV1().Namespaces().Create(ctx, ns("p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ServiceAccounts("p").Create(ctx, account("p", Default), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var token *corev1.Secret
	eventually(t, func() error {
		list, err := kube.CoreV1().Secrets("p").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for i := range list.Items {
			if s := &list.Items[i]; s.Type == corev1.SecretTypeServiceAccountToken && s.Annotations[corev1.ServiceAccountNameKey] == Default {
				token = s
				return nil
			}
		}
		return fmt.Errorf("no token secret for default yet")
	})
	// What Kubernetes' token controller does:
	token.Data = map[string][]byte{corev1.ServiceAccountTokenKey: []byte("s3cret")}
	if _, err := kube.CoreV1().Secrets("p").Update(ctx, token, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pullSecret := func() (string, error) {
		sa, err := kube.CoreV1().ServiceAccounts("p").Get(ctx, Default, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if len(sa.ImagePullSecrets) != 1 {
			return "", fmt.Errorf("default has pull secrets %v", sa.ImagePullSecrets)
		}
		name := sa.ImagePullSecrets[0].Name
		_, err = kube.CoreV1().Secrets("p").Get(ctx, name, metav1.GetOptions{})
		return name, err
	}
	var first string
	eventually(t, func() (err error) { first, err = pullSecret(); return err })
	if err := kube.CoreV1().Secrets("p").Delete(ctx, first, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		name, err := pullSecret()
		if err == nil && name == first {
			return fmt.Errorf("still %s", name)
		}
		return err
	})
	for _, name := range []string{Builder, Deployer} {
		if _, err := kube.CoreV1().ServiceAccounts("p").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Error(err)
		}
	}
}

func eventually(t *testing.T, check func() error) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return check() == nil, nil
	})
	if err != nil {
		t.Fatalf("%v: %v", err, check())
	}
}
