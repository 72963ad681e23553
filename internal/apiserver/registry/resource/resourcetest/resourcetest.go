// Package resourcetest holds the assertions the registry packages' table
// tests share.
package resourcetest

import (
	"slices"
	"testing"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ErrorKeys returns "<type> <field>" for each error (e.g. "Required value
// spec.to.name"), sorted.
func ErrorKeys(errs field.ErrorList) []string {
	keys := make([]string, 0, len(errs))
	for _, e := range errs {
		keys = append(keys, string(e.Type)+" "+e.Field)
	}
	slices.Sort(keys)
	return keys
}

// AssertErrors fails t unless errs are exactly want, in any order, and each
// error tells the user what is expected (a detail, or the supported values).
func AssertErrors(t testing.TB, errs field.ErrorList, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	if got := ErrorKeys(errs); !slices.Equal(got, want) {
		t.Errorf("errors:\n got  %q\n want %q\nfull: %v", got, want, errs)
	}
	for _, e := range errs {
		if e.Detail == "" && e.Type != field.ErrorTypeDuplicate && e.Type != field.ErrorTypeNotSupported && e.Type != field.ErrorTypeTooLong {
			t.Errorf("error %v does not say what is expected", e)
		}
	}
}

// AssertRow fails t unless d prints obj as exactly the cells want, one per
// column.
func AssertRow(t testing.TB, d resource.Definition, obj runtime.Object, want ...interface{}) {
	t.Helper()
	cells, err := d.Row(obj)
	if err != nil {
		t.Fatal(err)
	}
	AssertCells(t, d.Columns, cells, want...)
}

// AssertCells fails t unless cells are exactly want, one per column.
func AssertCells(t testing.TB, columns []metav1.TableColumnDefinition, cells []interface{}, want ...interface{}) {
	t.Helper()
	if len(cells) != len(columns) || len(want) != len(columns) {
		t.Fatalf("%d cells and %d wanted for %d columns", len(cells), len(want), len(columns))
	}
	for i := range want {
		if cells[i] != want[i] {
			t.Errorf("column %s = %#v, want %#v", columns[i].Name, cells[i], want[i])
		}
	}
}
