package authorization

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"testing"

	authorizationv1 "github.com/openshift/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func rbr(spec authorizationv1.RoleBindingRestrictionSpec) *authorizationv1.RoleBindingRestriction {
	return &authorizationv1.RoleBindingRestriction{ObjectMeta: metav1.ObjectMeta{Name: "match", Namespace: "app"}, Spec: spec}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	d := roleBindingRestrictionDefinition()
	tests := map[string]struct {
		spec authorizationv1.RoleBindingRestrictionSpec
		want []string
	}{
		"users": {spec: authorizationv1.RoleBindingRestrictionSpec{
			UserRestriction: &authorizationv1.UserRestriction{Users: []string{"alice"}}}},
		"groups by label": {spec: authorizationv1.RoleBindingRestrictionSpec{
			GroupRestriction: &authorizationv1.GroupRestriction{Selectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"team": "a"}}}}}},
		"service accounts": {spec: authorizationv1.RoleBindingRestrictionSpec{
			ServiceAccountRestriction: &authorizationv1.ServiceAccountRestriction{ServiceAccounts: []authorizationv1.ServiceAccountReference{{Name: "robot"}}}}},
		"none": {
			want: []string{"FieldValueRequired spec.userrestriction"},
		},
		"all three and empty": {
			spec: authorizationv1.RoleBindingRestrictionSpec{
				UserRestriction:           &authorizationv1.UserRestriction{},
				GroupRestriction:          &authorizationv1.GroupRestriction{Selectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"bad key!": "x"}}}},
				ServiceAccountRestriction: &authorizationv1.ServiceAccountRestriction{ServiceAccounts: []authorizationv1.ServiceAccountReference{{Namespace: "Bad_NS"}}},
			},
			want: []string{
				"FieldValueForbidden spec.grouprestriction",
				"FieldValueForbidden spec.serviceaccountrestriction",
				"FieldValueRequired spec.userrestriction.users",
				"FieldValueInvalid spec.grouprestriction.labels[0].matchLabels",
				"FieldValueRequired spec.serviceaccountrestriction.serviceaccounts[0].name",
				"FieldValueInvalid spec.serviceaccountrestriction.serviceaccounts[0].namespace",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resourcetest.AssertErrors(t, d.Validate(context.Background(), rbr(tc.spec)), tc.want)
		})
	}
}

func TestTable(t *testing.T) {
	t.Parallel()
	d := roleBindingRestrictionDefinition()
	tests := []struct {
		spec         authorizationv1.RoleBindingRestrictionSpec
		kind, subjct string
	}{
		{authorizationv1.RoleBindingRestrictionSpec{UserRestriction: &authorizationv1.UserRestriction{
			Users: []string{"alice", "bob"}, Groups: []string{"devs"}, Selectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"a": "b"}}}}},
			"User", "alice, bob, group(devs) + 1 more..."},
		{authorizationv1.RoleBindingRestrictionSpec{ServiceAccountRestriction: &authorizationv1.ServiceAccountRestriction{
			ServiceAccounts: []authorizationv1.ServiceAccountReference{{Namespace: "ci", Name: "robot"}}, Namespaces: []string{"build"}}},
			"ServiceAccount", "ci/robot, build/*"},
	}
	for _, tc := range tests {
		cells, err := d.Row(rbr(tc.spec))
		if err != nil {
			t.Fatal(err)
		}
		if len(cells) != len(d.Columns) {
			t.Fatalf("%d cells, %d columns", len(cells), len(d.Columns))
		}
		if cells[0] != "match" || cells[1] != tc.kind || cells[2] != tc.subjct || cells[3] != "<unknown>" {
			t.Errorf("row = %#v", cells)
		}
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	g := Group()
	s := runtime.NewScheme()
	if err := g.Install(s); err != nil {
		t.Fatal(err)
	}
	d := g.Resources[0]
	if !d.Namespaced || d.HasStatus {
		t.Errorf("definition = %+v", d)
	}
	if _, _, err := s.ObjectKinds(d.New()); err != nil {
		t.Error(err)
	}
}
