package generic

import (
	"context"
	"testing"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
	routev1 "github.com/openshift/api/route/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
)

func routeDef() *resource.Definition {
	return &resource.Definition{
		Resource: "routes", Kind: "Route", Namespaced: true, HasStatus: true,
		New:     func() runtime.Object { return &routev1.Route{} },
		NewList: func() runtime.Object { return &routev1.RouteList{} },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			if obj.(*routev1.Route).Spec.To.Name == "" {
				return field.ErrorList{field.Required(field.NewPath("spec", "to", "name"), "a service name")}
			}
			return nil
		},
		Columns: []metav1.TableColumnDefinition{resource.NameColumn, {Name: "Host", Type: "string"}},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			r := obj.(*routev1.Route)
			return []interface{}{r.Name, r.Spec.Host}, nil
		},
	}
}

func strategies(def *resource.Definition) (main, status *strategy) {
	gv := schema.GroupVersion{Group: "route.openshift.io", Version: "v1"}
	s := runtime.NewScheme()
	return &strategy{ObjectTyper: s, NameGenerator: names.SimpleNameGenerator, def: def, gv: gv},
		&strategy{ObjectTyper: s, NameGenerator: names.SimpleNameGenerator, def: def, gv: gv, status: true}
}

func route(host string, routers ...string) *routev1.Route {
	r := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"a": "b"}},
		Spec: routev1.RouteSpec{Host: host, To: routev1.RouteTargetReference{Kind: "Service", Name: "web"}}}
	for _, name := range routers {
		r.Status.Ingress = append(r.Status.Ingress, routev1.RouteIngress{RouterName: name})
	}
	return r
}

func TestCreateClearsStatusAndStartsGenerationAtOne(t *testing.T) {
	t.Parallel()
	main, _ := strategies(routeDef())
	r := route("a.example.com", "sneaky")
	main.PrepareForCreate(t.Context(), r)
	if len(r.Status.Ingress) != 0 {
		t.Errorf("status kept on create: %+v", r.Status)
	}
	if r.Generation != 1 {
		t.Errorf("generation %d, want 1", r.Generation)
	}
}

func TestMainUpdateKeepsStatusAndBumpsGenerationOnSpecChange(t *testing.T) {
	t.Parallel()
	main, _ := strategies(routeDef())
	old := route("a.example.com", "router-1")
	old.Generation = 3

	same := route("a.example.com")
	same.Labels = map[string]string{"new": "label"}
	main.PrepareForUpdate(t.Context(), same, old)
	if same.Generation != 3 || len(same.Status.Ingress) != 1 {
		t.Errorf("metadata-only update: generation %d, status %+v; want 3 and the stored status", same.Generation, same.Status)
	}

	changed := route("b.example.com", "forged")
	main.PrepareForUpdate(t.Context(), changed, old)
	if changed.Generation != 4 {
		t.Errorf("spec change: generation %d, want 4", changed.Generation)
	}
	if len(changed.Status.Ingress) != 1 || changed.Status.Ingress[0].RouterName != "router-1" {
		t.Errorf("main update changed status: %+v", changed.Status)
	}
}

func TestStatusUpdateKeepsSpecAndLabels(t *testing.T) {
	t.Parallel()
	_, status := strategies(routeDef())
	old := route("a.example.com")
	upd := route("evil.example.com", "router-1")
	upd.Labels = map[string]string{"changed": "yes"}
	status.PrepareForUpdate(t.Context(), upd, old)
	if upd.Spec.Host != "a.example.com" || upd.Labels["a"] != "b" || upd.Labels["changed"] != "" {
		t.Errorf("status update changed spec or labels: host %q labels %v", upd.Spec.Host, upd.Labels)
	}
	if len(upd.Status.Ingress) != 1 {
		t.Errorf("status not taken: %+v", upd.Status)
	}
}

func TestValidateReportsMetadataAndResourceErrorsTogether(t *testing.T) {
	t.Parallel()
	main, _ := strategies(routeDef())
	r := route("")
	r.Name = "Not_A_Name"
	r.Spec.To.Name = ""
	errs := main.Validate(t.Context(), r)
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Field] = true
	}
	if !got["metadata.name"] || !got["spec.to.name"] {
		t.Errorf("errors %v, want metadata.name and spec.to.name", errs)
	}
}

func TestTableRowsFollowTheColumns(t *testing.T) {
	t.Parallel()
	def := routeDef()
	c := newTableConvertor(schema.GroupResource{Group: "route.openshift.io", Resource: "routes"}, def)
	list := &routev1.RouteList{ListMeta: metav1.ListMeta{ResourceVersion: "7"}, Items: []routev1.Route{*route("a.example.com"), *route("b.example.com")}}
	table, err := c.ConvertToTable(t.Context(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.ColumnDefinitions) != 2 || len(table.Rows) != 2 || table.ResourceVersion != "7" {
		t.Fatalf("table %+v", table)
	}
	if table.Rows[1].Cells[1] != "b.example.com" {
		t.Errorf("row cells %v", table.Rows[1].Cells)
	}
	def.Row = func(runtime.Object) ([]interface{}, error) { return []interface{}{"only one"}, nil }
	if _, err := newTableConvertor(schema.GroupResource{}, def).ConvertToTable(t.Context(), route("x"), nil); err == nil {
		t.Error("a row with fewer cells than columns was accepted")
	}
}
