package image

import (
	"bytes"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDescribeStreamTags(t *testing.T) {
	gen := func(g int64) *int64 { return &g }
	s := stream("dev", "echo", map[string]string{"v1": imgA})
	s.Status.Tags[0].Items[0].Created = metav1.NewTime(testNow.Add(-3 * time.Minute))
	s.Status.Tags = append(s.Status.Tags, imagev1.NamedTagEventList{Tag: "pushed", Items: []imagev1.TagEvent{{
		Created: metav1.NewTime(testNow.Add(-2 * time.Hour)), DockerImageReference: "127.0.0.1:5000/dev/echo@" + imgB, Image: imgB}}})
	s.Status.Tags = append(s.Status.Tags, imagev1.NamedTagEventList{Tag: "ext", Conditions: []imagev1.TagEventCondition{{
		Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: "NotFound", Message: "manifest unknown", Generation: 2,
		LastTransitionTime: metav1.NewTime(testNow.Add(-time.Minute)),
	}}})
	s.Spec.Tags = []imagev1.TagReference{
		{Name: "v1", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/team/echo:1"}},
		{Name: "latest", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "echo:v1"}},
		{Name: "ext", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/team/app:9"}, Generation: gen(2),
			ImportPolicy: imagev1.TagImportPolicy{Scheduled: true, Insecure: true}},
		{Name: "next", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/team/app:10"}, Generation: gen(3),
			ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy}},
		{Name: "ref", Reference: true, From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/team/app:1"}},
		{Name: "shared", From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "base@" + imgB, Namespace: "shared"}},
	}
	var buf bytes.Buffer
	describeStreamTags(&buf, s, testNow)
	want := []string{
		"Unique Images:\t2\nTags:\t7\n\n",
		"v1 (latest)\n  tagged from quay.io/team/echo:1\n\n  * 127.0.0.1:5000/dev/echo@" + imgA + "\n      3 minutes ago\n",
		"pushed\n  no spec tag\n\n  * 127.0.0.1:5000/dev/echo@" + imgB + "\n      2 hours ago\n",
		"ext\n  updates automatically from registry quay.io/team/app:9\n    will use insecure HTTPS or HTTP connections\n\n" +
			"  ! error: Import failed (NotFound): manifest unknown\n      About a minute ago\n",
		"next\n  tagged from quay.io/team/app:10\n    prefer registry pullthrough when referencing this tag\n\n  ~ importing latest image ...\n",
		"ref\n  reference to registry quay.io/team/app:1\n",
		"shared\n  tagged from shared/base@" + imgB + "\n",
	}
	for _, w := range want {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("description lacks %q:\n%s", w, buf.String())
		}
	}
	if strings.Contains(buf.String(), "\nlatest\n") {
		t.Errorf("latest, which follows v1, is described on its own:\n%s", buf.String())
	}
}
