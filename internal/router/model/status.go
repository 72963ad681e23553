package model

import (
	"time"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// StatusChange is the status ingress entry this router should write on a
// route, when it differs from the one the route carries.
type StatusChange struct {
	Namespace, Name string
	UID             types.UID
	// Remove is set when the route is no longer this router's (it left the
	// shard): the router's ingress entry should be deleted. The other
	// fields are then empty.
	Remove bool
	// Host is the host the router serves the route at (spec.host, or the
	// generated one); WildcardPolicy is the route's.
	Host           string
	WildcardPolicy routev1.WildcardPolicyType
	Admitted       bool
	// Reason and Message explain a rejection (Reason is one of the Reason
	// constants); both are empty for an admitted route.
	Reason, Message string
}

// Key is the route's namespace/name.
func (c StatusChange) Key() string { return c.Namespace + "/" + c.Name }

// Apply writes the change into route.Status.Ingress for routerName (and
// canonicalHostname), keeping the other routers' entries. The Admitted
// condition's lastTransitionTime is now when its status changes. It
// reports whether the status changed.
func (c StatusChange) Apply(route *routev1.Route, routerName, canonicalHostname string, now time.Time) bool {
	idx := -1
	for i := range route.Status.Ingress {
		if route.Status.Ingress[i].RouterName == routerName {
			idx = i
			break
		}
	}
	if c.Remove {
		if idx < 0 {
			return false
		}
		route.Status.Ingress = append(route.Status.Ingress[:idx], route.Status.Ingress[idx+1:]...)
		return true
	}
	want := c.condition()
	if idx >= 0 && ingressMatches(&route.Status.Ingress[idx], c, canonicalHostname) {
		return false
	}
	entry := routev1.RouteIngress{
		Host:                    c.Host,
		RouterName:              routerName,
		WildcardPolicy:          c.WildcardPolicy,
		RouterCanonicalHostname: canonicalHostname,
	}
	t := metav1.NewTime(now)
	want.LastTransitionTime = &t
	if idx >= 0 {
		if old := admittedCondition(&route.Status.Ingress[idx]); old != nil && old.Status == want.Status && old.LastTransitionTime != nil {
			want.LastTransitionTime = old.LastTransitionTime
		}
	}
	entry.Conditions = []routev1.RouteIngressCondition{want}
	if idx >= 0 {
		route.Status.Ingress[idx] = entry
	} else {
		route.Status.Ingress = append(route.Status.Ingress, entry)
	}
	return true
}

func (c StatusChange) condition() routev1.RouteIngressCondition {
	cond := routev1.RouteIngressCondition{Type: routev1.RouteAdmitted, Status: corev1.ConditionTrue}
	if !c.Admitted {
		cond.Status = corev1.ConditionFalse
		cond.Reason, cond.Message = c.Reason, c.Message
	}
	return cond
}

func admittedCondition(in *routev1.RouteIngress) *routev1.RouteIngressCondition {
	for i := range in.Conditions {
		if in.Conditions[i].Type == routev1.RouteAdmitted {
			return &in.Conditions[i]
		}
	}
	return nil
}

// ingressMatches reports whether an ingress entry already says what the
// change says.
func ingressMatches(in *routev1.RouteIngress, c StatusChange, canonicalHostname string) bool {
	if in.Host != c.Host || in.WildcardPolicy != c.WildcardPolicy || in.RouterCanonicalHostname != canonicalHostname {
		return false
	}
	cond := admittedCondition(in)
	if cond == nil {
		return false
	}
	want := c.condition()
	return cond.Status == want.Status && cond.Reason == want.Reason && cond.Message == want.Message
}

// currentIngress returns the route's ingress entry for routerName, or nil.
func currentIngress(r *routev1.Route, routerName string) *routev1.RouteIngress {
	for i := range r.Status.Ingress {
		if r.Status.Ingress[i].RouterName == routerName {
			return &r.Status.Ingress[i]
		}
	}
	return nil
}
