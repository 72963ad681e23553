package apiserver

import (
	"context"
	"strings"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/generic"
	appsv1 "github.com/openshift/api/apps/v1"
	userv1 "github.com/openshift/api/user/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
)

// usersREST is the users storage where the name "~" means the caller.
type usersREST struct {
	*generic.REST
}

// Get returns the caller's User for "~": the stored one, or for identities
// that have none (certificates, service accounts) one made from the request.
func (r *usersREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	if name != "~" {
		return r.REST.Get(ctx, name, options)
	}
	u, ok := request.UserFrom(ctx)
	if !ok || u.GetName() == "" {
		return nil, apierrors.NewUnauthorized("no user in the request")
	}
	obj, err := r.REST.Get(ctx, u.GetName(), options)
	if err == nil {
		return obj, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	var groups []string
	for _, g := range u.GetGroups() {
		if !strings.HasPrefix(g, "system:authenticated") {
			groups = append(groups, g)
		}
	}
	return &userv1.User{ObjectMeta: metav1.ObjectMeta{Name: u.GetName()}, Groups: groups}, nil
}

// scaleREST serves deploymentconfigs/scale, so `scale dc/x --replicas` and
// autoscalers work. Scale updates go through the deploymentconfig's
// optimistic concurrency: a stale resourceVersion is a conflict.
type scaleREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Getter               = (*scaleREST)(nil)
	_ rest.Updater              = (*scaleREST)(nil)
	_ rest.GroupVersionAcceptor = (*scaleREST)(nil)
)

func (r *scaleREST) New() runtime.Object { return &extensionsv1beta1.Scale{} }
func (r *scaleREST) Destroy()            {}

// GroupVersionKind tells discovery the subresource speaks extensions/v1beta1
// Scale, the kind OpenShift serves and openshift/client-go's GetScale and
// UpdateScale send (kubectl and oc find it through discovery).
func (r *scaleREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return extensionsv1beta1.SchemeGroupVersion.WithKind("Scale")
}

// AcceptsGroupVersion lets clients send the Scale as extensions/v1beta1 (as
// discovery says) or as apps.openshift.io/v1, where openshift/client-go's
// scheme registers the same type and which its UpdateScale sends.
func (r *scaleREST) AcceptsGroupVersion(gv schema.GroupVersion) bool {
	return gv == extensionsv1beta1.SchemeGroupVersion || gv == appsv1.GroupVersion
}

func (r *scaleREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.store.Get(ctx, name, options)
	if err != nil {
		return nil, err
	}
	return scaleOf(obj.(*appsv1.DeploymentConfig)), nil
}

func (r *scaleREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	obj, _, err := r.store.Update(ctx, name, &scaleUpdate{objInfo}, rest.AdmissionToValidateObjectFunc(nil, nil, nil), updateValidationFor(updateValidation), false, options)
	if err != nil {
		return nil, false, err
	}
	return scaleOf(obj.(*appsv1.DeploymentConfig)), false, nil
}

// updateValidationFor runs admission on the scale, not on the deploymentconfig.
func updateValidationFor(v rest.ValidateObjectUpdateFunc) rest.ValidateObjectUpdateFunc {
	if v == nil {
		return nil
	}
	return func(ctx context.Context, obj, old runtime.Object) error {
		return v(ctx, scaleOf(obj.(*appsv1.DeploymentConfig)), scaleOf(old.(*appsv1.DeploymentConfig)))
	}
}

type scaleUpdate struct{ rest.UpdatedObjectInfo }

func (u *scaleUpdate) UpdatedObject(ctx context.Context, old runtime.Object) (runtime.Object, error) {
	dc := old.(*appsv1.DeploymentConfig).DeepCopy()
	obj, err := u.UpdatedObjectInfo.UpdatedObject(ctx, scaleOf(dc))
	if err != nil {
		return nil, err
	}
	scale, ok := obj.(*extensionsv1beta1.Scale)
	if !ok {
		return nil, apierrors.NewBadRequest("expected a Scale object")
	}
	if scale.Spec.Replicas < 0 {
		return nil, apierrors.NewInvalid(extensionsv1beta1.SchemeGroupVersion.WithKind("Scale").GroupKind(), dc.Name,
			field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), scale.Spec.Replicas, "must be greater than or equal to 0")})
	}
	dc.Spec.Replicas = scale.Spec.Replicas
	dc.ResourceVersion = scale.ResourceVersion
	return dc, nil
}

func scaleOf(dc *appsv1.DeploymentConfig) *extensionsv1beta1.Scale {
	return &extensionsv1beta1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: dc.Name, Namespace: dc.Namespace, UID: dc.UID,
			ResourceVersion: dc.ResourceVersion, CreationTimestamp: dc.CreationTimestamp},
		Spec: extensionsv1beta1.ScaleSpec{Replicas: dc.Spec.Replicas},
		Status: extensionsv1beta1.ScaleStatus{Replicas: dc.Status.Replicas, Selector: dc.Spec.Selector,
			TargetSelector: metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: dc.Spec.Selector}),
		},
	}
}
