// Package user holds the strategy pieces of the user.openshift.io/v1
// resources served by Gantry: users, identities and groups, all cluster
// scoped. Names follow OpenShift's rules: user and group names are path
// segments without ':' (and '~' means "the caller"), identity names are
// <providerName>:<providerUserName>.
package user

import (
	"context"
	"strings"

	userv1 "github.com/openshift/api/user/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

// Group returns the user.openshift.io/v1 group with its persisted resources.
func Group() resource.Group {
	return resource.Group{
		GroupVersion: userv1.GroupVersion,
		Install:      userv1.Install,
		Resources:    []resource.Definition{userDefinition(), identityDefinition(), groupDefinition()},
	}
}

func userDefinition() resource.Definition {
	return resource.Definition{
		Resource:     "users",
		Singular:     "user",
		Kind:         "User",
		New:          func() runtime.Object { return &userv1.User{} },
		NewList:      func() runtime.Object { return &userv1.UserList{} },
		ValidateName: ValidateUserName,
		// The groups field is deprecated: group membership lives in groups.
		PrepareForCreate: func(_ context.Context, obj runtime.Object) { obj.(*userv1.User).Groups = nil },
		PrepareForUpdate: func(_ context.Context, obj, _ runtime.Object) { obj.(*userv1.User).Groups = nil },
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateUser(obj.(*userv1.User))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateUser(obj.(*userv1.User))
		},
		Columns: []metav1.TableColumnDefinition{
			resource.NameColumn,
			{Name: "UID", Type: "string", Description: "The user's unique ID."},
			{Name: "Full Name", Type: "string", Description: "The user's full name."},
			{Name: "Identities", Type: "string", Description: "The identities mapped to the user."},
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			u := obj.(*userv1.User)
			return []interface{}{u.Name, string(u.UID), u.FullName, strings.Join(u.Identities, ", ")}, nil
		},
	}
}

func identityDefinition() resource.Definition {
	return resource.Definition{
		Resource:     "identities",
		Singular:     "identity",
		Kind:         "Identity",
		New:          func() runtime.Object { return &userv1.Identity{} },
		NewList:      func() runtime.Object { return &userv1.IdentityList{} },
		ValidateName: ValidateIdentityName,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateIdentity(obj.(*userv1.Identity))
		},
		ValidateUpdate: func(_ context.Context, obj, old runtime.Object) field.ErrorList {
			return validateIdentityUpdate(obj.(*userv1.Identity), old.(*userv1.Identity))
		},
		Columns: []metav1.TableColumnDefinition{
			resource.NameColumn,
			{Name: "IdP Name", Type: "string", Description: "The identity provider."},
			{Name: "IdP User Name", Type: "string", Description: "The user's name at the identity provider."},
			{Name: "User Name", Type: "string", Description: "The user the identity is mapped to."},
			{Name: "User UID", Type: "string", Description: "The UID of the user the identity is mapped to."},
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			i := obj.(*userv1.Identity)
			return []interface{}{i.Name, i.ProviderName, i.ProviderUserName, i.User.Name, string(i.User.UID)}, nil
		},
	}
}

func groupDefinition() resource.Definition {
	return resource.Definition{
		Resource:     "groups",
		Singular:     "group",
		Kind:         "Group",
		New:          func() runtime.Object { return &userv1.Group{} },
		NewList:      func() runtime.Object { return &userv1.GroupList{} },
		ValidateName: ValidateGroupName,
		Validate: func(_ context.Context, obj runtime.Object) field.ErrorList {
			return validateGroup(obj.(*userv1.Group))
		},
		ValidateUpdate: func(_ context.Context, obj, _ runtime.Object) field.ErrorList {
			return validateGroup(obj.(*userv1.Group))
		},
		Columns: []metav1.TableColumnDefinition{
			resource.NameColumn,
			{Name: "Users", Type: "string", Description: "The members of the group."},
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			g := obj.(*userv1.Group)
			return []interface{}{g.Name, strings.Join(g.Users, ", ")}, nil
		},
	}
}
