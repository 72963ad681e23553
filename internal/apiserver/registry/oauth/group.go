// Package oauth holds the strategy pieces of the oauth.openshift.io/v1
// resources served by Gantry: OAuth clients, access and authorize tokens,
// and client authorizations (grants), all cluster scoped. Validation follows
// OpenShift's OAuth API server; tables never show client secrets.
package oauth

import (
	"context"

	oauthv1 "github.com/openshift/api/oauth/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// Group returns the oauth.openshift.io/v1 group with its persisted resources.
func Group() resource.Group {
	return resource.Group{
		GroupVersion: oauthv1.GroupVersion,
		Install:      oauthv1.Install,
		Resources: []resource.Definition{
			clientDefinition(),
			accessTokenDefinition(),
			authorizeTokenDefinition(),
			clientAuthorizationDefinition(),
		},
	}
}

func clientDefinition() resource.Definition {
	return resource.Definition{
		Resource: "oauthclients",
		Singular: "oauthclient",
		Kind:     "OAuthClient",
		New:      func() runtime.Object { return &oauthv1.OAuthClient{} },
		NewList:  func() runtime.Object { return &oauthv1.OAuthClientList{} },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateClient(obj.(*oauthv1.OAuthClient))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateClient(obj.(*oauthv1.OAuthClient))
		},
		Columns: clientColumns,
		Row:     func(obj runtime.Object) ([]interface{}, error) { return clientRow(obj.(*oauthv1.OAuthClient)), nil },
	}
}

func accessTokenDefinition() resource.Definition {
	return resource.Definition{
		Resource:     "oauthaccesstokens",
		Singular:     "oauthaccesstoken",
		Kind:         "OAuthAccessToken",
		New:          func() runtime.Object { return &oauthv1.OAuthAccessToken{} },
		NewList:      func() runtime.Object { return &oauthv1.OAuthAccessTokenList{} },
		ValidateName: ValidateTokenName,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateAccessToken(obj.(*oauthv1.OAuthAccessToken))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateAccessTokenUpdate(obj.(*oauthv1.OAuthAccessToken), old.(*oauthv1.OAuthAccessToken))
		},
		Columns: tokenColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			t := obj.(*oauthv1.OAuthAccessToken)
			return tokenRow(&t.ObjectMeta, t.UserName, t.ClientName, t.ExpiresIn, t.RedirectURI, t.Scopes), nil
		},
		Fields: func(obj runtime.Object) fields.Set {
			t := obj.(*oauthv1.OAuthAccessToken)
			return fields.Set{"clientName": t.ClientName, "userName": t.UserName, "userUID": t.UserUID, "authorizeToken": t.AuthorizeToken}
		},
	}
}

func authorizeTokenDefinition() resource.Definition {
	return resource.Definition{
		Resource:     "oauthauthorizetokens",
		Singular:     "oauthauthorizetoken",
		Kind:         "OAuthAuthorizeToken",
		New:          func() runtime.Object { return &oauthv1.OAuthAuthorizeToken{} },
		NewList:      func() runtime.Object { return &oauthv1.OAuthAuthorizeTokenList{} },
		ValidateName: ValidateTokenName,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateAuthorizeToken(obj.(*oauthv1.OAuthAuthorizeToken))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateAuthorizeTokenUpdate(obj.(*oauthv1.OAuthAuthorizeToken), old.(*oauthv1.OAuthAuthorizeToken))
		},
		Columns: tokenColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			t := obj.(*oauthv1.OAuthAuthorizeToken)
			return tokenRow(&t.ObjectMeta, t.UserName, t.ClientName, t.ExpiresIn, t.RedirectURI, t.Scopes), nil
		},
		Fields: func(obj runtime.Object) fields.Set {
			t := obj.(*oauthv1.OAuthAuthorizeToken)
			return fields.Set{"clientName": t.ClientName, "userName": t.UserName, "userUID": t.UserUID}
		},
	}
}

func clientAuthorizationDefinition() resource.Definition {
	return resource.Definition{
		Resource:     "oauthclientauthorizations",
		Singular:     "oauthclientauthorization",
		Kind:         "OAuthClientAuthorization",
		New:          func() runtime.Object { return &oauthv1.OAuthClientAuthorization{} },
		NewList:      func() runtime.Object { return &oauthv1.OAuthClientAuthorizationList{} },
		ValidateName: ValidateClientAuthorizationName,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateClientAuthorization(obj.(*oauthv1.OAuthClientAuthorization))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateClientAuthorizationUpdate(obj.(*oauthv1.OAuthClientAuthorization), old.(*oauthv1.OAuthClientAuthorization))
		},
		Columns: clientAuthorizationColumns,
		Row: func(obj runtime.Object) ([]interface{}, error) {
			return clientAuthorizationRow(obj.(*oauthv1.OAuthClientAuthorization)), nil
		},
		Fields: func(obj runtime.Object) fields.Set {
			a := obj.(*oauthv1.OAuthClientAuthorization)
			return fields.Set{"clientName": a.ClientName, "userName": a.UserName, "userUID": a.UserUID}
		},
	}
}
