package template

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"testing"
	"time"

	templatev1 "github.com/openshift/api/template/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/endpoints/request"
)

func asUser(name string) context.Context {
	return request.WithUser(context.Background(), &user.DefaultInfo{
		Name: name, UID: "uid-" + name, Groups: []string{"system:authenticated"},
		Extra: map[string][]string{"scopes.authorization.openshift.io": {"user:full"}},
	})
}

func validInstance() *templatev1.TemplateInstance {
	tp := validTemplate()
	tp.Namespace = ""
	return &templatev1.TemplateInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "rails", Namespace: "demo", CreationTimestamp: metav1.NewTime(time.Now().Add(-2 * time.Hour))},
		Spec: templatev1.TemplateInstanceSpec{
			Template:  *tp,
			Secret:    &corev1.LocalObjectReference{Name: "rails-params"},
			Requester: &templatev1.TemplateInstanceRequester{Username: "alice"},
		},
	}
}

func TestSetRequester(t *testing.T) {
	t.Parallel()
	d := templateInstances()
	ti := validInstance()
	ti.Spec.Requester = nil
	d.PrepareForCreate(asUser("alice"), ti)
	r := ti.Spec.Requester
	if r == nil || r.Username != "alice" || r.UID != "uid-alice" || len(r.Groups) != 1 || len(r.Extra["scopes.authorization.openshift.io"]) != 1 {
		t.Fatalf("requester = %+v", r)
	}

	set := validInstance()
	d.PrepareForCreate(asUser("bob"), set)
	if set.Spec.Requester.Username != "alice" {
		t.Errorf("PrepareForCreate replaced a requester: %+v", set.Spec.Requester)
	}
}

func TestValidateTemplateInstance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ctx    context.Context
		mutate func(*templatev1.TemplateInstance)
		want   []string
	}{
		{name: "valid", ctx: asUser("alice"), mutate: func(*templatev1.TemplateInstance) {}},
		{name: "no secret, unnamed template", ctx: asUser("alice"), mutate: func(ti *templatev1.TemplateInstance) {
			ti.Spec.Secret = nil
			ti.Spec.Template.Name = ""
		}},
		{
			name: "many invalid fields",
			ctx:  asUser("alice"),
			mutate: func(ti *templatev1.TemplateInstance) {
				ti.Spec.Template.Name = "Bad_Name"
				ti.Spec.Template.Labels = map[string]string{"bad key!": "v"}
				ti.Spec.Template.Parameters[0].Name = "bad-name"
				ti.Spec.Template.Objects = append(ti.Spec.Template.Objects, raw(`{"apiVersion":"v1"}`))
				ti.Spec.Secret = &corev1.LocalObjectReference{}
				ti.Spec.Requester = nil
			},
			want: []string{
				"FieldValueInvalid spec.template.metadata.name",
				"FieldValueInvalid spec.template.metadata.labels",
				"FieldValueInvalid spec.template.parameters[0].name",
				"FieldValueRequired spec.template.objects[2].kind",
				"FieldValueRequired spec.secret.name",
				"FieldValueRequired spec.requester.username",
			},
		},
		{name: "invalid secret name", ctx: asUser("alice"), mutate: func(ti *templatev1.TemplateInstance) {
			ti.Spec.Secret.Name = "Bad_Secret"
		}, want: []string{"FieldValueInvalid spec.secret.name"}},
		{name: "someone else as requester", ctx: asUser("mallory"), mutate: func(*templatev1.TemplateInstance) {},
			want: []string{"FieldValueForbidden spec.requester.username"}},
		{name: "no user in context", ctx: context.Background(), mutate: func(*templatev1.TemplateInstance) {},
			want: []string{"InternalError spec.requester.username"}},
	}
	d := templateInstances()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ti := validInstance()
			tt.mutate(ti)
			resourcetest.AssertErrors(t, d.Validate(tt.ctx, ti), tt.want)
		})
	}
}

func TestValidateTemplateInstanceUpdate(t *testing.T) {
	t.Parallel()
	d := templateInstances()
	old := validInstance()

	relabeled := validInstance()
	relabeled.Labels = map[string]string{"team": "web"}
	// The same objects, re-serialized with other spacing and key order.
	relabeled.Spec.Template.Objects[0] = raw(`{ "kind": "Service", "metadata": {"name": "${NAME}"}, "apiVersion": "v1" }`)
	resourcetest.AssertErrors(t, d.ValidateUpdate(asUser("bob"), relabeled, old), nil)

	for name, mutate := range map[string]func(*templatev1.TemplateInstance){
		"object": func(ti *templatev1.TemplateInstance) {
			ti.Spec.Template.Objects[0] = raw(`{"apiVersion":"v1","kind":"Secret"}`)
		},
		"objects":   func(ti *templatev1.TemplateInstance) { ti.Spec.Template.Objects = ti.Spec.Template.Objects[:1] },
		"parameter": func(ti *templatev1.TemplateInstance) { ti.Spec.Template.Parameters[0].Value = "other" },
		"requester": func(ti *templatev1.TemplateInstance) { ti.Spec.Requester.Username = "bob" },
		"secret":    func(ti *templatev1.TemplateInstance) { ti.Spec.Secret = nil },
	} {
		ti := validInstance()
		mutate(ti)
		errs := d.ValidateUpdate(asUser("alice"), ti, old)
		if len(errs) != 1 || errs[0].Field != "spec" {
			t.Errorf("changed %s: errors %v, want one spec error", name, errs)
		}
	}
}

func TestTemplateInstanceRow(t *testing.T) {
	t.Parallel()
	d := templateInstances()
	resourcetest.AssertRow(t, d, validInstance(), "rails", "rails-postgresql", "120m")
	if _, err := d.Row(runtime.Object(&templatev1.Template{})); err == nil {
		t.Error("Row accepted a template")
	}
}
