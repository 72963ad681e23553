package apps

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

var columns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Revision", Type: "integer", Description: "The latest version (status.latestVersion) deployed."},
	{Name: "Desired", Type: "string", Description: "The desired number of replicas (spec.replicas)."},
	{Name: "Current", Type: "integer", Description: "The current number of replicas (status.replicas)."},
	{Name: "Triggered By", Type: "string", Description: "The triggers that start a new deployment."},
}

func row(dc *appsv1.DeploymentConfig) []interface{} {
	desired := fmt.Sprintf("%d", dc.Spec.Replicas)
	if dc.Spec.Test {
		desired += " (during test)"
	}
	return []interface{}{dc.Name, dc.Status.LatestVersion, desired, int64(dc.Status.Replicas), triggeredBy(dc)}
}

// triggeredBy renders the triggers the way oc does: "config" for a config
// change trigger and image(<istag>) for each automatic image change trigger,
// prefixed with the container names when the trigger does not cover all
// containers of a multi-container template; sorted and comma separated.
func triggeredBy(dc *appsv1.DeploymentConfig) string {
	containers := map[string]bool{}
	if dc.Spec.Template != nil {
		for _, c := range dc.Spec.Template.Spec.Containers {
			containers[c.Name] = true
		}
	}
	set := map[string]bool{}
	for _, t := range dc.Spec.Triggers {
		switch t.Type {
		case appsv1.DeploymentTriggerOnConfigChange:
			set["config"] = true
		case appsv1.DeploymentTriggerOnImageChange:
			p := t.ImageChangeParams
			if p == nil || !p.Automatic {
				continue
			}
			prefix := ""
			if len(containers) != 1 && !coversAll(containers, p.ContainerNames) {
				names := append([]string(nil), p.ContainerNames...)
				sort.Strings(names)
				prefix = strings.Join(names, ",") + ":"
			}
			kind := "image"
			if p.From.Kind != "ImageStreamTag" {
				kind = p.From.Kind
			}
			set[fmt.Sprintf("%s(%s%s)", kind, prefix, p.From.Name)] = true
		default:
			set[string(t.Type)] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// coversAll reports whether names includes every container.
func coversAll(containers map[string]bool, names []string) bool {
	named := map[string]bool{}
	for _, n := range names {
		named[n] = true
	}
	for c := range containers {
		if !named[c] {
			return false
		}
	}
	return true
}
