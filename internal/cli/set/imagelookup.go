package set

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"

	"github.com/gantry-dev/gantry/internal/admission/imagelookup"
)

const imageLookupLong = `Use an image stream from pods and other objects.

With local name lookup on, an image stream resolves its own name in the project: a pod,
Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController or
DeploymentConfig that says image: mysql (or mysql:v1, or mysql@sha256:...) gets the image the
stream's tag points at, from where the stream says it is (the integrated registry for a
pushed image), when the object is created. Images with a registry host are never changed.

Without arguments, lists the project's image streams and whether they resolve names.

Name an object (deploy/mysql) instead of a stream to resolve every image of its pod template
against the project's streams, whether or not they have lookup on: this annotates the template
alpha.image.policy.openshift.io/resolve-names=*.`

const imageLookupExample = `  # List the image streams and whether they resolve local names
  gantry set image-lookup

  # Resolve "mysql" in pods from the image stream mysql
  gantry set image-lookup mysql

  # Stop it
  gantry set image-lookup mysql --enabled=false

  # Resolve every image of a deployment against the project's image streams
  gantry set image-lookup deploy/mysql

  # Show whether the deployment does
  gantry set image-lookup deploy/mysql --list

  # Turn lookup on for every image stream of the project
  gantry set image-lookup --all`

// ImageLookupOptions are the options of `gantry set image-lookup`.
type ImageLookupOptions struct {
	// Args are image stream names and TYPE/NAME objects.
	Args []string
	// Enabled is --enabled: turn lookup on (or off).
	Enabled bool
	// List is --list: print the state instead of changing it.
	List bool
	// All is --all: every image stream of the project.
	All bool

	Namespace string
	Images    imageclient.ImageV1Interface
	Dynamic   dynamic.Interface
	Mapper    meta.RESTMapper
	genericiooptions.IOStreams
}

// NewCmdImageLookup returns `gantry set image-lookup`.
func NewCmdImageLookup(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ImageLookupOptions{Enabled: true, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "image-lookup STREAMNAME [...]",
		Short:   "Change how images are resolved when deploying applications",
		Long:    imageLookupLong,
		Example: imageLookupExample,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(flags, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.Enabled, "enabled", o.Enabled, "Mark the image stream as resolving tagged images in this namespace.")
	cmd.Flags().BoolVar(&o.List, "list", o.List, "Display the current states of the requested resources.")
	cmd.Flags().BoolVar(&o.All, "all", o.All, "If true, select all image streams in the namespace.")
	return cmd
}

// Complete reads the clients and the project from the kubeconfig flags.
func (o *ImageLookupOptions) Complete(flags *genericclioptions.ConfigFlags, args []string) error {
	o.Args = args
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("no cluster to talk to (%v)\nTry: sudo gantry start, or set --kubeconfig", err)
	}
	if o.Images, err = imageclient.NewForConfig(cfg); err != nil {
		return err
	}
	if o.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	if o.Mapper, err = flags.ToRESTMapper(); err != nil {
		return err
	}
	o.Namespace, _, err = flags.ToRawKubeConfigLoader().Namespace()
	return err
}

// Validate checks the arguments before anything is read or changed.
func (o *ImageLookupOptions) Validate() error {
	if o.Namespace == "" {
		return errors.New("no project selected\nTry: -n PROJECT, or gantry project PROJECT")
	}
	if o.All && len(o.Args) > 0 {
		return errors.New("--all selects every image stream of the project: name none with it")
	}
	for _, a := range o.Args {
		if typ, name, ok := strings.Cut(a, "/"); ok && (typ == "" || name == "" || strings.Contains(name, "/")) {
			return fmt.Errorf("%q is neither an image stream name nor TYPE/NAME\nTry: gantry set image-lookup mysql, or deploy/mysql", a)
		}
	}
	return nil
}

var imageStreams = schema.GroupResource{Group: "image.openshift.io", Resource: "imagestreams"}

// target is one object the command acts on: an image stream, or an object with a pod template.
type target struct {
	stream string // an image stream's name, or ""
	gvr    schema.GroupVersionResource
	kind   schema.GroupVersionKind
	name   string
}

// display is the object as oc names it in messages: imagestream.image.openshift.io/x,
// deployment.apps/x, pod/x.
func (t target) display() string {
	if t.stream != "" {
		return "imagestream.image.openshift.io/" + t.stream
	}
	kind := strings.ToLower(t.kind.Kind)
	if t.kind.Group != "" {
		kind += "." + t.kind.Group
	}
	return kind + "/" + t.name
}

func (o *ImageLookupOptions) targets(ctx context.Context) ([]target, error) {
	if len(o.Args) == 0 {
		list, err := o.Images.ImageStreams(o.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list the image streams of project %s: %w", o.Namespace, err)
		}
		var out []target
		for _, s := range list.Items {
			out = append(out, target{stream: s.Name})
		}
		return out, nil
	}
	var out []target
	for _, a := range o.Args {
		typ, name, ok := strings.Cut(a, "/")
		if !ok {
			out = append(out, target{stream: a})
			continue
		}
		gvr, err := o.Mapper.ResourceFor(schema.ParseGroupResource(typ).WithVersion(""))
		if err != nil {
			return nil, fmt.Errorf("%s: the server has no resource type %q\nTry: gantry api-resources", a, typ)
		}
		if gvr.GroupResource() == imageStreams {
			out = append(out, target{stream: name})
			continue
		}
		gvk, err := o.Mapper.KindFor(gvr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a, err)
		}
		out = append(out, target{gvr: gvr, kind: gvk, name: name})
	}
	return out, nil
}

// Run prints the table (no arguments, or --list) or changes each object, printing those
// changed, as oc does ("deployment.apps/x image lookup updated"); unchanged objects print nothing.
func (o *ImageLookupOptions) Run(ctx context.Context) error {
	targets, err := o.targets(ctx)
	if err != nil {
		return err
	}
	if o.List || (len(o.Args) == 0 && !o.All) {
		return o.printTable(ctx, targets)
	}
	var errs []error
	for _, t := range targets {
		changed, err := o.set(ctx, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if changed {
			fmt.Fprintf(o.Out, "%s image lookup updated\n", t.display())
		}
	}
	return errors.Join(errs...)
}

func (o *ImageLookupOptions) set(ctx context.Context, t target) (bool, error) {
	if t.stream != "" {
		s, err := o.Images.ImageStreams(o.Namespace).Get(ctx, t.stream, metav1.GetOptions{})
		if err != nil {
			return false, o.readError(t, err)
		}
		if s.Spec.LookupPolicy.Local == o.Enabled {
			return false, nil
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"lookupPolicy": imagev1.ImageLookupPolicy{Local: o.Enabled}}})
		if _, err := o.Images.ImageStreams(o.Namespace).Patch(ctx, t.stream, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return false, fmt.Errorf("set image lookup on %s: %w", t.display(), err)
		}
		return true, nil
	}
	obj, err := o.Dynamic.Resource(t.gvr).Namespace(o.Namespace).Get(ctx, t.name, metav1.GetOptions{})
	if err != nil {
		return false, o.readError(t, err)
	}
	path, ok := annotationsPath(t.kind.Kind, obj)
	if !ok {
		return false, fmt.Errorf("%s does not support altering image lookup: it has no pod template", t.display())
	}
	cur, _, _ := unstructured.NestedString(obj.Object, append(path, imagelookup.ResolveNamesAnnotation)...)
	if o.Enabled && cur == "*" || !o.Enabled && !hasKey(obj, path) {
		return false, nil
	}
	var value any // null removes the annotation
	if o.Enabled {
		value = "*"
	}
	patch := map[string]any{imagelookup.ResolveNamesAnnotation: value}
	for i := len(path) - 1; i >= 0; i-- {
		patch = map[string]any{path[i]: patch}
	}
	body, _ := json.Marshal(patch)
	if _, err := o.Dynamic.Resource(t.gvr).Namespace(o.Namespace).Patch(ctx, t.name, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		return false, fmt.Errorf("set image lookup on %s: %w", t.display(), err)
	}
	return true, nil
}

func hasKey(obj *unstructured.Unstructured, path []string) bool {
	m, _, _ := unstructured.NestedStringMap(obj.Object, path...)
	_, ok := m[imagelookup.ResolveNamesAnnotation]
	return ok
}

// annotationsPath is where the resolve-names annotation goes: the pod template's annotations,
// or a pod's own.
func annotationsPath(kind string, obj *unstructured.Unstructured) ([]string, bool) {
	switch {
	case kind == "Pod":
		return []string{"metadata", "annotations"}, true
	case kind == "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template", "metadata", "annotations"}, true
	}
	if _, ok, _ := unstructured.NestedMap(obj.Object, "spec", "template"); ok {
		return []string{"spec", "template", "metadata", "annotations"}, true
	}
	return nil, false
}

func (o *ImageLookupOptions) readError(t target, err error) error {
	if apierrors.IsNotFound(err) {
		if t.stream != "" {
			return fmt.Errorf("image stream %q not found in project %s\nTry: gantry get is -n %s, or push or import the image first", t.stream, o.Namespace, o.Namespace)
		}
		return fmt.Errorf("%s not found in project %s", t.display(), o.Namespace)
	}
	return fmt.Errorf("read %s: %w", t.display(), err)
}

// printTable prints oc's NAME/LOCAL table.
func (o *ImageLookupOptions) printTable(ctx context.Context, targets []target) error {
	w := tabwriter.NewWriter(o.Out, 0, 2, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintln(w, "NAME\tLOCAL")
	var errs []error
	for _, t := range targets {
		if t.stream != "" {
			s, err := o.Images.ImageStreams(o.Namespace).Get(ctx, t.stream, metav1.GetOptions{})
			if err != nil {
				errs = append(errs, o.readError(t, err))
				continue
			}
			fmt.Fprintf(w, "%s\t%t\n", s.Name, s.Spec.LookupPolicy.Local)
			continue
		}
		obj, err := o.Dynamic.Resource(t.gvr).Namespace(o.Namespace).Get(ctx, t.name, metav1.GetOptions{})
		if err != nil {
			errs = append(errs, o.readError(t, err))
			continue
		}
		name := t.gvr.Resource + "/" + t.name
		path, ok := annotationsPath(t.kind.Kind, obj)
		if !ok {
			fmt.Fprintf(w, "%s\tUNKNOWN\n", name)
			continue
		}
		v, _, _ := unstructured.NestedString(obj.Object, append(path, imagelookup.ResolveNamesAnnotation)...)
		if v != "*" {
			v = obj.GetAnnotations()[imagelookup.ResolveNamesAnnotation]
		}
		fmt.Fprintf(w, "%s\t%t\n", name, v == "*")
	}
	return errors.Join(errs...)
}
