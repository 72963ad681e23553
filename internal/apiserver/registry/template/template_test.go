package template

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"strings"
	"testing"
	"time"

	templatev1 "github.com/openshift/api/template/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func raw(s string) runtime.RawExtension { return runtime.RawExtension{Raw: []byte(s)} }

func validTemplate() *templatev1.Template {
	return &templatev1.Template{
		ObjectMeta: metav1.ObjectMeta{Name: "rails-postgresql", Namespace: "openshift",
			Annotations: map[string]string{"description": "An example Rails application with a PostgreSQL database."}},
		Parameters: []templatev1.Parameter{
			{Name: "NAME", Value: "rails"},
			{Name: "DATABASE_PASSWORD", Generate: "expression", From: "[a-zA-Z0-9]{16}"},
		},
		Objects: []runtime.RawExtension{
			raw(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"${NAME}"}}`),
			raw(`{"apiVersion":"route.openshift.io/v1","kind":"Route","metadata":{"name":"${NAME}"}}`),
		},
		ObjectLabels: map[string]string{"template": "rails-postgresql", "app": "${NAME}"},
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	g := Group()
	if g.GroupVersion.String() != "template.openshift.io/v1" || len(g.Resources) != 3 {
		t.Fatalf("unexpected group %v with %d resources", g.GroupVersion, len(g.Resources))
	}
	want := []struct {
		resource   string
		namespaced bool
		status     bool
	}{{"templates", true, false}, {"templateinstances", true, true}, {"brokertemplateinstances", false, false}}
	for i, w := range want {
		d := g.Resources[i]
		if d.Resource != w.resource || d.Namespaced != w.namespaced || d.HasStatus != w.status {
			t.Errorf("resource %d = %s namespaced=%v status=%v, want %+v", i, d.Resource, d.Namespaced, d.HasStatus, w)
		}
		if d.New == nil || d.NewList == nil || d.Validate == nil || d.ValidateUpdate == nil || d.Row == nil {
			t.Errorf("%s misses functions", d.Resource)
		}
	}
}

func TestValidateTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*templatev1.Template)
		want   []string
	}{
		{name: "valid", mutate: func(*templatev1.Template) {}},
		{name: "empty", mutate: func(tp *templatev1.Template) { *tp = templatev1.Template{} }},
		{name: "generator ignored when a value is set", mutate: func(tp *templatev1.Template) {
			tp.Parameters[1].Value = "secret"
			tp.Parameters[1].From = ""
		}},
		{
			name: "many invalid fields",
			mutate: func(tp *templatev1.Template) {
				tp.Parameters = []templatev1.Parameter{
					{Name: "bad-name"},
					{Name: ""},
					{Name: "DUP"},
					{Name: "DUP", Generate: "random"},
					{Name: "NO_FROM", Generate: "expression"},
					{Name: "BAD_FROM", Generate: "expression", From: "[a-z]{0}"},
					{Name: "EMPTY_RANGE", Generate: "expression", From: "[a-a]{4}"},
				}
				tp.Objects = []runtime.RawExtension{
					raw(`{"metadata":{"name":"x"}}`),
					raw(`[1,2]`),
					raw(`null`),
					raw(`{"apiVersion":"v1","kind":"ConfigMap"}`),
				}
				tp.ObjectLabels = map[string]string{"bad key!": "ok", "app": "bad value!"}
			},
			want: []string{
				"FieldValueInvalid parameters[0].name",
				"FieldValueRequired parameters[1].name",
				"FieldValueDuplicate parameters[3].name",
				"FieldValueNotSupported parameters[3].generate",
				"FieldValueRequired parameters[4].from",
				"FieldValueInvalid parameters[5].from",
				"FieldValueInvalid parameters[6].from",
				"FieldValueRequired objects[0].apiVersion",
				"FieldValueRequired objects[0].kind",
				"FieldValueInvalid objects[1]",
				"FieldValueRequired objects[2]",
				"FieldValueInvalid labels",
				"FieldValueInvalid labels[app]",
			},
		},
	}
	d := templates()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := validTemplate()
			tt.mutate(tp)
			resourcetest.AssertErrors(t, d.Validate(context.Background(), tp), tt.want)
			resourcetest.AssertErrors(t, d.ValidateUpdate(context.Background(), tp, validTemplate()), tt.want)
		})
	}
}

func TestTemplateRow(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 30)
	tests := []struct {
		name   string
		mutate func(*templatev1.Template)
		want   []interface{}
	}{
		{
			name:   "generated parameters",
			mutate: func(*templatev1.Template) {},
			want:   []interface{}{"rails-postgresql", "An example Rails application with a PostgreSQL database.", "2 (1 generated)", int64(2)},
		},
		{
			name: "blank parameters and multi-line description",
			mutate: func(tp *templatev1.Template) {
				tp.Annotations["description"] = "First line.\nSecond line."
				tp.Parameters = append(tp.Parameters, templatev1.Parameter{Name: "BLANK"})
			},
			want: []interface{}{"rails-postgresql", "First line....", "3 (1 blank)", int64(2)},
		},
		{
			name: "all set, long description, no objects",
			mutate: func(tp *templatev1.Template) {
				tp.Annotations["description"] = long
				tp.Parameters = tp.Parameters[:1]
				tp.Objects = nil
			},
			want: []interface{}{"rails-postgresql", strings.TrimSpace(long[:77]) + "...", "1 (all set)", int64(0)},
		},
		{
			name:   "no annotations",
			mutate: func(tp *templatev1.Template) { tp.Annotations = nil; tp.Parameters = nil },
			want:   []interface{}{"rails-postgresql", "", "0 (all set)", int64(2)},
		},
	}
	d := templates()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := validTemplate()
			tt.mutate(tp)
			resourcetest.AssertRow(t, d, tp, tt.want...)
		})
	}
	if _, err := d.Row(&templatev1.TemplateInstance{}); err == nil {
		t.Error("Row accepted a template instance")
	}
}

func validBrokerTemplateInstance() *templatev1.BrokerTemplateInstance {
	return &templatev1.BrokerTemplateInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "a1b2", CreationTimestamp: metav1.NewTime(time.Now().Add(-10 * time.Minute))},
		Spec: templatev1.BrokerTemplateInstanceSpec{
			TemplateInstance: corev1.ObjectReference{Kind: "TemplateInstance", Namespace: "demo", Name: "rails"},
			Secret:           corev1.ObjectReference{Kind: "Secret", Namespace: "demo", Name: "rails-params"},
			BindingIDs:       []string{"123e4567-e89b-12d3-a456-426614174000"},
		},
	}
}

func TestValidateBrokerTemplateInstance(t *testing.T) {
	t.Parallel()
	d := brokerTemplateInstances()
	resourcetest.AssertErrors(t, d.Validate(context.Background(), validBrokerTemplateInstance()), nil)

	b := validBrokerTemplateInstance()
	b.Spec.TemplateInstance = corev1.ObjectReference{Kind: "Template", Name: "Bad_Name"}
	b.Spec.Secret = corev1.ObjectReference{Namespace: "Bad.NS"}
	b.Spec.BindingIDs = []string{"123e4567-e89b-12d3-a456-426614174000", "not-a-uuid"}
	want := []string{
		"FieldValueInvalid spec.templateInstance.kind",
		"FieldValueInvalid spec.templateInstance.name",
		"FieldValueRequired spec.templateInstance.namespace",
		"FieldValueRequired spec.secret.kind",
		"FieldValueRequired spec.secret.name",
		"FieldValueInvalid spec.secret.namespace",
		"FieldValueInvalid spec.bindingIDs[1]",
	}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), b), want)
	resourcetest.AssertErrors(t, d.ValidateUpdate(context.Background(), b, validBrokerTemplateInstance()), want)

	cells, err := d.Row(validBrokerTemplateInstance())
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != len(d.Columns) || cells[0] != "a1b2" || cells[1] != "demo/rails" || cells[2] != "10m" {
		t.Errorf("row = %#v for %d columns", cells, len(d.Columns))
	}
}
