package quota

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"testing"

	quotav1 "github.com/openshift/api/quota/v1"
	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func validCRQ() *quotav1.ClusterResourceQuota {
	return &quotav1.ClusterResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "team-a"},
		Spec: quotav1.ClusterResourceQuotaSpec{
			Selector: quotav1.ClusterResourceQuotaSelector{
				AnnotationSelector: map[string]string{"openshift.io/requester": "alice"},
			},
			Quota: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
				corev1.ResourcePods: apiresource.MustParse("10"),
				"requests.cpu":      apiresource.MustParse("4"),
				"count/deploymentconfigs.apps.openshift.io": apiresource.MustParse("0"),
			}},
		},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	d := clusterResourceQuotaDefinition()
	ok := validCRQ()
	resourcetest.AssertErrors(t, d.Validate(context.Background(), ok), nil)
	byLabel := validCRQ()
	byLabel.Spec.Selector = quotav1.ClusterResourceQuotaSelector{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), byLabel), nil)

	bad := validCRQ()
	bad.Spec.Selector = quotav1.ClusterResourceQuotaSelector{LabelSelector: &metav1.LabelSelector{}}
	bad.Spec.Quota.Hard["pods"] = apiresource.MustParse("-1")
	bad.Spec.Quota.Hard["bad name!"] = apiresource.MustParse("1")
	bad.Spec.Quota.Scopes = []corev1.ResourceQuotaScope{"Weekends"}
	resourcetest.AssertErrors(t, d.Validate(context.Background(), bad), []string{
		"FieldValueRequired spec.selector",
		"FieldValueInvalid spec.selector.labels",
		"FieldValueInvalid spec.quota.hard[pods]",
		"FieldValueInvalid spec.quota.hard[bad name!]",
		"FieldValueNotSupported spec.quota.scopes[0]",
	})

	st := validCRQ()
	st.Status.Total.Used = corev1.ResourceList{"pods": apiresource.MustParse("-2")}
	st.Status.Namespaces = quotav1.ResourceQuotasStatusByNamespace{{Status: corev1.ResourceQuotaStatus{}}}
	resourcetest.AssertErrors(t, d.ValidateStatusUpdate(context.Background(), st, validCRQ()), []string{
		"FieldValueInvalid status.total.used[pods]",
		"FieldValueRequired status.namespaces[0].namespace",
	})
}

func TestTable(t *testing.T) {
	t.Parallel()
	d := clusterResourceQuotaDefinition()
	q := validCRQ()
	q.Spec.Selector.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	cells, err := d.Row(q)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != len(d.Columns) {
		t.Fatalf("%d cells, %d columns", len(cells), len(d.Columns))
	}
	want := []interface{}{"team-a", "team=a", "openshift.io/requester=alice", "<unknown>"}
	for i := range want {
		if cells[i] != want[i] {
			t.Errorf("cell %s = %#v, want %#v", d.Columns[i].Name, cells[i], want[i])
		}
	}
	q.Spec.Selector = quotav1.ClusterResourceQuotaSelector{}
	cells, _ = d.Row(q)
	if cells[1] != "<none>" || cells[2] != "<none>" {
		t.Errorf("empty selectors = %#v %#v", cells[1], cells[2])
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
	if d.Namespaced || !d.HasStatus {
		t.Errorf("definition = %+v", d)
	}
	if _, _, err := s.ObjectKinds(d.New()); err != nil {
		t.Error(err)
	}
}
