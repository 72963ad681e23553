package build

import (
	"fmt"
	"regexp"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource"
)

var buildConfigColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Type", Type: "string", Description: "The build strategy: Source, Docker, Custom or JenkinsPipeline."},
	{Name: "From", Type: "string", Description: "The build's source input, with the Git ref or commit when known."},
	{Name: "Latest", Type: "integer", Description: "The version of the latest build started from this config."},
}

var buildColumns = []metav1.TableColumnDefinition{
	resource.NameColumn,
	{Name: "Type", Type: "string", Description: "The build strategy: Source, Docker, Custom or JenkinsPipeline."},
	{Name: "From", Type: "string", Description: "The build's source input, with the Git ref or commit when known."},
	{Name: "Status", Type: "string", Description: "The build phase, with the reason when there is one."},
	{Name: "Started", Type: "string", Description: "Time since the build started running."},
	{Name: "Duration", Type: "string", Description: "How long the build ran."},
}

func buildConfigRow(bc *buildv1.BuildConfig) []interface{} {
	from := describeSourceShort(&bc.Spec.CommonSpec)
	if cs := bc.Spec.Strategy.CustomStrategy; cs != nil {
		from = cs.From.Name
	}
	return []interface{}{bc.Name, strategyType(&bc.Spec.Strategy), from, bc.Status.LastVersion}
}

func buildRow(b *buildv1.Build) []interface{} {
	status := string(b.Status.Phase)
	if b.Status.Reason != "" {
		status = fmt.Sprintf("%s (%s)", status, b.Status.Reason)
	}
	started := ""
	if ts := b.Status.StartTimestamp; ts != nil && !ts.IsZero() {
		started = resource.Age(*ts) + " ago"
	}
	duration := ""
	if d := b.Status.Duration; d > 0 {
		duration = d.Round(time.Second).String()
	}
	return []interface{}{b.Name, strategyType(&b.Spec.Strategy), describeSourceShort(&b.Spec.CommonSpec), status, started, duration}
}

// strategyType is the strategy type, derived from the strategy set when the
// type field is empty.
func strategyType(s *buildv1.BuildStrategy) string {
	if s.Type != "" {
		return string(s.Type)
	}
	if set := setStrategies(s); len(set) == 1 {
		return string(set[0])
	}
	return ""
}

// describeSourceShort renders the source the way oc does: the input kind
// (Git, Binary, Dockerfile or a combination) followed by @ and the commit
// or Git ref when one is known.
func describeSourceShort(spec *buildv1.CommonSpec) string {
	src := &spec.Source
	var from string
	withRev := true
	switch {
	case src.Binary != nil:
		from = "Binary"
	case src.Dockerfile != nil && src.Git != nil:
		from = "Dockerfile,Git"
	case src.Dockerfile != nil:
		from, withRev = "Dockerfile", false
	case src.Git != nil:
		from = "Git"
	default:
		from, withRev = string(src.Type), false
		if len(src.Images) > 0 && from == "" {
			from = string(buildv1.BuildSourceImage)
		}
	}
	if withRev {
		if rev := gitRevision(spec); rev != "" {
			from += "@" + rev
		}
	}
	return from
}

var nonCommitRev = regexp.MustCompile("[^a-fA-F0-9]")

// gitRevision is the built commit, else the configured Git ref; a full
// commit hash is shortened to 7 characters.
func gitRevision(spec *buildv1.CommonSpec) string {
	var rev string
	if spec.Revision != nil && spec.Revision.Git != nil {
		rev = spec.Revision.Git.Commit
	}
	if rev == "" && spec.Source.Git != nil {
		rev = spec.Source.Git.Ref
	}
	if len(rev) > 20 && !nonCommitRev.MatchString(rev) {
		rev = rev[:7]
	}
	return rev
}
