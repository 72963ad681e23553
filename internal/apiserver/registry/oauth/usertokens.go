package oauth

import (
	"context"

	oauthv1 "github.com/openshift/api/oauth/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// TokenStore is what UserTokensREST needs of the oauthaccesstokens storage.
type TokenStore interface {
	rest.Getter
	rest.Lister
	rest.Watcher
	rest.GracefulDeleter
	rest.TableConvertor
}

// UserTokensREST serves useroauthaccesstokens: the caller's own OAuth access tokens, to list (where
// they are logged in), and to delete (log out a session). Other users' tokens do not exist here.
type UserTokensREST struct {
	Tokens TokenStore
}

var (
	_ rest.Getter               = (*UserTokensREST)(nil)
	_ rest.Lister               = (*UserTokensREST)(nil)
	_ rest.Watcher              = (*UserTokensREST)(nil)
	_ rest.GracefulDeleter      = (*UserTokensREST)(nil)
	_ rest.Scoper               = (*UserTokensREST)(nil)
	_ rest.SingularNameProvider = (*UserTokensREST)(nil)
)

func (r *UserTokensREST) New() runtime.Object     { return &oauthv1.UserOAuthAccessToken{} }
func (r *UserTokensREST) NewList() runtime.Object { return &oauthv1.UserOAuthAccessTokenList{} }
func (r *UserTokensREST) Destroy()                {}
func (r *UserTokensREST) NamespaceScoped() bool   { return false }
func (r *UserTokensREST) GetSingularName() string { return "useroauthaccesstoken" }

func caller(ctx context.Context) (string, error) {
	u, ok := request.UserFrom(ctx)
	if !ok || u.GetName() == "" {
		return "", apierrors.NewUnauthorized("no user in the request")
	}
	return u.GetName(), nil
}

func toUserToken(t *oauthv1.OAuthAccessToken) *oauthv1.UserOAuthAccessToken {
	u := oauthv1.UserOAuthAccessToken(*t.DeepCopy())
	u.TypeMeta = metav1.TypeMeta{}
	return &u
}

// own gets the caller's token name, or NotFound (also for another user's token: no hint it exists).
func (r *UserTokensREST) own(ctx context.Context, name string) (*oauthv1.OAuthAccessToken, error) {
	user, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	obj, err := r.Tokens.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(oauthv1.Resource("useroauthaccesstokens"), name)
		}
		return nil, err
	}
	t := obj.(*oauthv1.OAuthAccessToken)
	if t.UserName != user {
		return nil, apierrors.NewNotFound(oauthv1.Resource("useroauthaccesstokens"), name)
	}
	return t, nil
}

func (r *UserTokensREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	t, err := r.own(ctx, name)
	if err != nil {
		return nil, err
	}
	return toUserToken(t), nil
}

// mine narrows a list or watch to the caller's tokens.
func mine(ctx context.Context, options *metainternalversion.ListOptions) (*metainternalversion.ListOptions, error) {
	user, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	out := &metainternalversion.ListOptions{}
	if options != nil {
		out = options.DeepCopy()
	}
	own := fields.OneTermEqualSelector("userName", user)
	if out.FieldSelector == nil || out.FieldSelector.Empty() {
		out.FieldSelector = own
	} else {
		out.FieldSelector = fields.AndSelectors(out.FieldSelector, own)
	}
	return out, nil
}

func (r *UserTokensREST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	opts, err := mine(ctx, options)
	if err != nil {
		return nil, err
	}
	obj, err := r.Tokens.List(ctx, opts)
	if err != nil {
		return nil, err
	}
	l := obj.(*oauthv1.OAuthAccessTokenList)
	out := &oauthv1.UserOAuthAccessTokenList{ListMeta: l.ListMeta}
	for i := range l.Items {
		out.Items = append(out.Items, *toUserToken(&l.Items[i]))
	}
	return out, nil
}

func (r *UserTokensREST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	opts, err := mine(ctx, options)
	if err != nil {
		return nil, err
	}
	w, err := r.Tokens.Watch(ctx, opts)
	if err != nil {
		return nil, err
	}
	return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
		if t, ok := e.Object.(*oauthv1.OAuthAccessToken); ok {
			e.Object = toUserToken(t)
		}
		return e, true
	}), nil
}

// Delete revokes one of the caller's tokens.
func (r *UserTokensREST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	t, err := r.own(ctx, name)
	if err != nil {
		return nil, false, err
	}
	if options == nil {
		options = &metav1.DeleteOptions{}
	}
	uid := t.UID
	options.Preconditions = &metav1.Preconditions{UID: &uid}
	obj, done, err := r.Tokens.Delete(ctx, name, deleteValidation, options)
	if t, ok := obj.(*oauthv1.OAuthAccessToken); ok {
		obj = toUserToken(t)
	}
	return obj, done, err
}

func (r *UserTokensREST) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	switch o := obj.(type) {
	case *oauthv1.UserOAuthAccessToken:
		t := oauthv1.OAuthAccessToken(*o)
		obj = &t
	case *oauthv1.UserOAuthAccessTokenList:
		l := &oauthv1.OAuthAccessTokenList{ListMeta: o.ListMeta}
		for _, i := range o.Items {
			l.Items = append(l.Items, oauthv1.OAuthAccessToken(i))
		}
		obj = l
	}
	return r.Tokens.ConvertToTable(ctx, obj, tableOptions)
}
