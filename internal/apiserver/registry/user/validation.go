package user

import (
	"fmt"
	"strings"

	userv1 "github.com/openshift/api/user/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateUserName checks a user name: a path segment (no '/' or '%', not
// '.' or '..') without ':', and not '~', which stands for the caller.
func ValidateUserName(name string, prefix bool) []string {
	if name == "" && !prefix {
		return []string{"may not be empty"}
	}
	if msgs := path.ValidatePathSegmentName(name, prefix); len(msgs) != 0 {
		return msgs
	}
	if strings.Contains(name, ":") {
		return []string{`may not contain ":"`}
	}
	if name == "~" {
		return []string{`may not be "~", which refers to the current user`}
	}
	return nil
}

// ValidateGroupName checks a group name; the rules are those of user names.
func ValidateGroupName(name string, prefix bool) []string {
	return ValidateUserName(name, prefix)
}

// ValidateIdentityName checks an identity name: <providerName>:<providerUserName>
// with both parts non-empty.
func ValidateIdentityName(name string, _ bool) []string {
	if msgs := path.ValidatePathSegmentName(name, false); len(msgs) != 0 {
		return msgs
	}
	parts := strings.Split(name, ":")
	switch {
	case len(parts) != 2:
		return []string{"must be in the form <providerName>:<providerUserName> with exactly one ':'"}
	case parts[0] == "":
		return []string{"must be in the form <providerName>:<providerUserName> with a non-empty providerName"}
	case parts[1] == "":
		return []string{"must be in the form <providerName>:<providerUserName> with a non-empty providerUserName"}
	}
	return nil
}

func validateUser(u *userv1.User) field.ErrorList {
	var allErrs field.ErrorList
	for i, id := range u.Identities {
		if msgs := ValidateIdentityName(id, false); len(msgs) != 0 {
			allErrs = append(allErrs, field.Invalid(field.NewPath("identities").Index(i), id, strings.Join(msgs, ", ")))
		}
	}
	return allErrs
}

func validateGroup(g *userv1.Group) field.ErrorList {
	var allErrs field.ErrorList
	for i, u := range g.Users {
		p := field.NewPath("users").Index(i)
		if u == "" {
			allErrs = append(allErrs, field.Required(p, "must be a user name"))
		} else if msgs := ValidateUserName(u, false); len(msgs) != 0 {
			allErrs = append(allErrs, field.Invalid(p, u, strings.Join(msgs, ", ")))
		}
	}
	return allErrs
}

func validateIdentity(id *userv1.Identity) field.ErrorList {
	var allErrs field.ErrorList
	if id.ProviderName == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("providerName"), "must name the identity provider"))
	} else if msgs := path.ValidatePathSegmentName(id.ProviderName, false); len(msgs) != 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("providerName"), id.ProviderName, strings.Join(msgs, ", ")))
	} else if strings.Contains(id.ProviderName, ":") {
		allErrs = append(allErrs, field.Invalid(field.NewPath("providerName"), id.ProviderName, `may not contain ":"`))
	}
	if id.ProviderUserName == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("providerUserName"), "must give the user's name at the identity provider"))
	} else if msgs := ValidateUserName(id.ProviderUserName, false); len(msgs) != 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("providerUserName"), id.ProviderUserName, strings.Join(msgs, ", ")))
	}
	if id.ProviderName != "" && id.ProviderUserName != "" {
		if want := id.ProviderName + ":" + id.ProviderUserName; id.Name != want {
			allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), id.Name, fmt.Sprintf("must be %q (<providerName>:<providerUserName>)", want)))
		}
	}
	userPath := field.NewPath("user")
	if id.User.Name != "" {
		if msgs := ValidateUserName(id.User.Name, false); len(msgs) != 0 {
			allErrs = append(allErrs, field.Invalid(userPath.Child("name"), id.User.Name, strings.Join(msgs, ", ")))
		}
		if id.User.UID == "" {
			allErrs = append(allErrs, field.Required(userPath.Child("uid"), "must give the UID of the user named in user.name"))
		}
	} else if id.User.UID != "" {
		allErrs = append(allErrs, field.Required(userPath.Child("name"), "must name the user whose UID is given in user.uid"))
	}
	return allErrs
}

// validateIdentityUpdate also keeps the provider fields, which the name is
// made of, from changing.
func validateIdentityUpdate(id, old *userv1.Identity) field.ErrorList {
	allErrs := validateIdentity(id)
	if id.ProviderName != old.ProviderName {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("providerName"), "may not be changed after creation"))
	}
	if id.ProviderUserName != old.ProviderUserName {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("providerUserName"), "may not be changed after creation"))
	}
	return allErrs
}
