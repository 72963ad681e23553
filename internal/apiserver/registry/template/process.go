package template

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"math/rand"

	templatev1 "github.com/openshift/api/template/v1"
	"github.com/openshift/library-go/pkg/template/generator"
	"github.com/openshift/library-go/pkg/template/templateprocessing"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
)

// NewProcessor returns library-go's template processor with the
// "expression" generator seeded from the system's randomness, so generated
// values (passwords) cannot be predicted.
func NewProcessor() *templateprocessing.Processor {
	var seed [8]byte
	_, _ = crand.Read(seed[:])
	r := rand.New(rand.NewSource(int64(binary.LittleEndian.Uint64(seed[:]))))
	return templateprocessing.NewProcessor(map[string]generator.Generator{
		ExpressionGenerator: generator.NewExpressionValueGenerator(r),
	})
}

// ProcessREST serves processedtemplates: POST a Template, get it back with
// parameters generated and substituted into its objects (`oc process`).
type ProcessREST struct{}

var (
	_ rest.Creater              = (*ProcessREST)(nil)
	_ rest.SingularNameProvider = (*ProcessREST)(nil)
)

func (r *ProcessREST) New() runtime.Object     { return &templatev1.Template{} }
func (r *ProcessREST) Destroy()                {}
func (r *ProcessREST) NamespaceScoped() bool   { return true }
func (r *ProcessREST) GetSingularName() string { return "processedtemplate" }

// Create validates and processes the template; nothing is stored.
func (r *ProcessREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	t, ok := obj.(*templatev1.Template)
	if !ok {
		return nil, apierrors.NewBadRequest("expected a Template object")
	}
	t = t.DeepCopy()
	if errs := validateTemplateBody(t, nil); len(errs) > 0 {
		return nil, apierrors.NewInvalid(templatev1.GroupVersion.WithKind("Template").GroupKind(), t.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, t); err != nil {
			return nil, err
		}
	}
	if errs := NewProcessor().Process(t); len(errs) > 0 {
		return nil, apierrors.NewInvalid(templatev1.GroupVersion.WithKind("Template").GroupKind(), t.Name, errs)
	}
	return t, nil
}
