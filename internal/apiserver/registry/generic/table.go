package generic

import (
	"context"
	"fmt"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
)

// newTableConvertor prints the Definition's columns, or NAME and CREATED AT
// when it has none.
func newTableConvertor(gr schema.GroupResource, def *resource.Definition) rest.TableConvertor {
	if def.Row == nil || len(def.Columns) == 0 {
		return rest.NewDefaultTableConvertor(gr)
	}
	return &tableConvertor{def: def}
}

type tableConvertor struct {
	def *resource.Definition
}

// ConvertToTable renders one object or a list as table rows.
func (c *tableConvertor) ConvertToTable(_ context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opts, ok := tableOptions.(*metav1.TableOptions); !ok || !opts.NoHeaders {
		table.ColumnDefinitions = c.def.Columns
	}
	add := func(obj runtime.Object) error {
		cells, err := c.def.Row(obj)
		if err != nil {
			return err
		}
		if len(cells) != len(c.def.Columns) {
			return fmt.Errorf("table row for %s has %d cells for %d columns", c.def.Kind, len(cells), len(c.def.Columns))
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: obj}})
		return nil
	}
	if meta.IsListType(object) {
		if err := meta.EachListItem(object, add); err != nil {
			return nil, err
		}
		if l, err := meta.ListAccessor(object); err == nil {
			table.ResourceVersion = l.GetResourceVersion()
			table.Continue = l.GetContinue()
			table.RemainingItemCount = l.GetRemainingItemCount()
		}
		return table, nil
	}
	if err := add(object); err != nil {
		return nil, err
	}
	if m, err := meta.Accessor(object); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	return table, nil
}
