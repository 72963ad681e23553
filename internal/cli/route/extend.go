package route

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/gantry-dev/gantry/internal/cli/kubectl"
)

// Extend adds the route commands to kubectl's tree: `create route` and the
// service case of `expose`.
func Extend(root *cobra.Command, f cmdutil.Factory, streams genericiooptions.IOStreams) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "create":
			c.AddCommand(newCreateRoute(f, streams))
		case "expose":
			wrapExpose(f, c)
		}
	}
}

var _ kubectl.Extension = Extend
