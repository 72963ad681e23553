package image

import (
	"context"
	"github.com/gantry-dev/gantry/internal/apiserver/registry/resource/resourcetest"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validStream() *imagev1.ImageStream {
	s := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "ruby", Namespace: "demo"},
		Spec: imagev1.ImageStreamSpec{
			DockerImageRepository: "registry.example.com/demo/ruby",
			Tags: []imagev1.TagReference{
				{Name: "latest", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "3.3"}},
				{Name: "3.3", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "docker.io/library/ruby:3.3"}, ImportPolicy: imagev1.TagImportPolicy{Scheduled: true}},
				{Name: "3.2", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Namespace: "openshift", Name: "ruby:3.2"}},
				{Name: "pinned", From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "ruby@" + digest}},
			},
		},
	}
	defaultImageStream(s)
	return s
}

func TestValidateStreamName(t *testing.T) {
	t.Parallel()
	for name, valid := range map[string]bool{
		"ruby":                  true,
		"ruby-27":               true,
		"my.app_1":              true,
		strings.Repeat("a", 63): true,
		strings.Repeat("a", 64): false,
		"Ruby":                  false,
		"ruby--27":              false,
		"-ruby":                 false,
		"ruby/27":               false,
		"..":                    false,
	} {
		if got := validateStreamName(name, false); (len(got) == 0) != valid {
			t.Errorf("validateStreamName(%q) = %v, want valid=%v", name, got, valid)
		}
	}
	if got := validateStreamName("ruby-", true); len(got) != 0 {
		t.Errorf("generateName prefix ruby- rejected: %v", got)
	}
}

func TestDefaultImageStream(t *testing.T) {
	t.Parallel()
	s := &imagev1.ImageStream{Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
		{Name: "a"},
		{Name: "b", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy}, ImportPolicy: imagev1.TagImportPolicy{ImportMode: imagev1.ImportModePreserveOriginal}},
	}}}
	defaultImageStream(s)
	if got := s.Spec.Tags[0]; got.ReferencePolicy.Type != imagev1.SourceTagReferencePolicy || got.ImportPolicy.ImportMode != imagev1.ImportModeLegacy {
		t.Errorf("tag a not defaulted: %+v", got)
	}
	if got := s.Spec.Tags[1]; got.ReferencePolicy.Type != imagev1.LocalTagReferencePolicy || got.ImportPolicy.ImportMode != imagev1.ImportModePreserveOriginal {
		t.Errorf("tag b changed: %+v", got)
	}
	if s.Spec.LookupPolicy.Local {
		t.Error("defaulting turned lookupPolicy.local on")
	}
}

func TestValidateStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*imagev1.ImageStream)
		want   []string
	}{
		{name: "valid", mutate: func(*imagev1.ImageStream) {}},
		{name: "empty", mutate: func(s *imagev1.ImageStream) { s.Spec = imagev1.ImageStreamSpec{} }},
		{
			name: "many invalid fields",
			mutate: func(s *imagev1.ImageStream) {
				s.Spec.DockerImageRepository = "registry.example.com/demo/ruby:3.3"
				s.Spec.Tags = []imagev1.TagReference{
					{Name: "bad tag!", From: &corev1.ObjectReference{Kind: "Pod", Name: "x"}, ReferencePolicy: imagev1.TagReferencePolicy{Type: "Remote"}},
					{Name: "dup", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "Not A Ref"}, ReferencePolicy: imagev1.TagReferencePolicy{Type: "Source"}, ImportPolicy: imagev1.TagImportPolicy{ImportMode: "Fancy"}},
					{Name: "dup", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "a:b:c", Namespace: "Bad_NS"}, ReferencePolicy: imagev1.TagReferencePolicy{Type: "Local"}, ImportPolicy: imagev1.TagImportPolicy{Scheduled: true}},
					{Name: "", From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "ruby@"}, ReferencePolicy: imagev1.TagReferencePolicy{Type: "Source"}},
					{Name: "nokind", From: &corev1.ObjectReference{Name: "x"}, ReferencePolicy: imagev1.TagReferencePolicy{Type: "Source"}},
				}
			},
			want: []string{
				"FieldValueInvalid spec.dockerImageRepository",
				"FieldValueInvalid spec.tags[0].name",
				"FieldValueNotSupported spec.tags[0].from.kind",
				"FieldValueNotSupported spec.tags[0].referencePolicy.type",
				"FieldValueInvalid spec.tags[1].from.name",
				"FieldValueNotSupported spec.tags[1].importPolicy.importMode",
				"FieldValueDuplicate spec.tags[2].name",
				"FieldValueInvalid spec.tags[2].from.name",
				"FieldValueInvalid spec.tags[2].from.namespace",
				"FieldValueInvalid spec.tags[2].importPolicy.scheduled",
				"FieldValueRequired spec.tags[3].name",
				"FieldValueInvalid spec.tags[3].from.name",
				"FieldValueRequired spec.tags[4].from.kind",
			},
		},
	}
	d := imageStreams()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := validStream()
			tt.mutate(s)
			resourcetest.AssertErrors(t, d.Validate(context.Background(), s), tt.want)
			resourcetest.AssertErrors(t, d.ValidateUpdate(context.Background(), s, validStream()), tt.want)
		})
	}
}

func TestValidateStreamStatus(t *testing.T) {
	t.Parallel()
	s := validStream()
	s.Status.Tags = []imagev1.NamedTagEventList{
		{Tag: "latest", Items: []imagev1.TagEvent{{DockerImageReference: "registry.example.com/demo/ruby@" + digest, Image: digest}}},
	}
	d := imageStreams()
	resourcetest.AssertErrors(t, d.ValidateStatusUpdate(context.Background(), s, validStream()), nil)
	s.Status.Tags = append(s.Status.Tags,
		imagev1.NamedTagEventList{Tag: "latest", Items: []imagev1.TagEvent{{}, {DockerImageReference: "::"}}},
		imagev1.NamedTagEventList{Tag: ""},
	)
	resourcetest.AssertErrors(t, d.ValidateStatusUpdate(context.Background(), s, validStream()), []string{
		"FieldValueDuplicate status.tags[1].tag",
		"FieldValueRequired status.tags[1].items[0].dockerImageReference",
		"FieldValueInvalid status.tags[1].items[1].dockerImageReference",
		"FieldValueRequired status.tags[2].tag",
	})
}

func generations(s *imagev1.ImageStream) map[string]int64 {
	out := map[string]int64{}
	for _, t := range s.Spec.Tags {
		if t.Generation == nil {
			out[t.Name] = -1
		} else {
			out[t.Name] = *t.Generation
		}
	}
	return out
}

func TestStreamGenerations(t *testing.T) {
	t.Parallel()
	s := validStream()
	s.Spec.Tags[0].Generation = int64Ptr(42)
	prepareStreamForCreate(s)
	if s.Generation != 1 {
		t.Fatalf("generation after create = %d, want 1", s.Generation)
	}
	for tag, g := range generations(s) {
		if g != 1 {
			t.Errorf("tag %s generation = %d after create, want 1", tag, g)
		}
	}

	// No spec change: generation and tag generations stay.
	same := s.DeepCopy()
	same.Spec.Tags[1].Generation = int64Ptr(99) // clients cannot set it
	prepareStreamForUpdate(same, s)
	if same.Generation != 1 || generations(same)["3.3"] != 1 {
		t.Errorf("unchanged spec: generation %d, tags %v", same.Generation, generations(same))
	}

	// Re-point one tag, add one, ask for a re-import of another.
	next := s.DeepCopy()
	next.Spec.Tags[1].From.Name = "docker.io/library/ruby:3.3.1"
	next.Spec.Tags[2].Generation = int64Ptr(0)
	next.Spec.Tags = append(next.Spec.Tags, imagev1.TagReference{Name: "new", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "ruby:4"}})
	prepareStreamForUpdate(next, s)
	if next.Generation != 2 {
		t.Fatalf("generation after spec change = %d, want 2", next.Generation)
	}
	want := map[string]int64{"latest": 1, "3.3": 2, "3.2": 2, "pinned": 1, "new": 2}
	got := generations(next)
	for tag, g := range want {
		if got[tag] != g {
			t.Errorf("tag %s generation = %d, want %d", tag, got[tag], g)
		}
	}
}

func TestStreamRow(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	item := func(d time.Duration) []imagev1.TagEvent {
		return []imagev1.TagEvent{{Created: at(d), DockerImageReference: "r"}}
	}
	tests := []struct {
		name   string
		status imagev1.ImageStreamStatus
		want   []interface{}
	}{
		{
			name:   "no tags",
			status: imagev1.ImageStreamStatus{DockerImageRepository: "172.30.1.1:5000/demo/ruby"},
			want:   []interface{}{"ruby", "172.30.1.1:5000/demo/ruby", "", ""},
		},
		{
			name: "public repository and few tags",
			status: imagev1.ImageStreamStatus{
				DockerImageRepository:       "172.30.1.1:5000/demo/ruby",
				PublicDockerImageRepository: "registry.apps.example.com/demo/ruby",
				Tags: []imagev1.NamedTagEventList{
					{Tag: "old", Items: item(3 * time.Hour)},
					{Tag: "latest", Items: item(5 * time.Minute)},
					{Tag: "pending"},
				},
			},
			want: []interface{}{"ruby", "registry.apps.example.com/demo/ruby", "latest,old,pending", "5m ago"},
		},
		{
			name: "more than three tags",
			status: imagev1.ImageStreamStatus{
				DockerImageRepository: "172.30.1.1:5000/demo/ruby",
				Tags: []imagev1.NamedTagEventList{
					{Tag: "a", Items: item(4 * time.Hour)},
					{Tag: "b", Items: item(3 * time.Hour)},
					{Tag: "c", Items: item(2 * time.Hour)},
					{Tag: "d", Items: item(time.Hour)},
					{Tag: "e", Items: item(time.Hour)},
				},
			},
			want: []interface{}{"ruby", "172.30.1.1:5000/demo/ruby", "d,e,c + 2 more...", "60m ago"},
		},
	}
	d := imageStreams()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := validStream()
			s.Status = tt.status
			cells := streamRow(s, now)
			resourcetest.AssertCells(t, d.Columns, cells, tt.want...)
		})
	}
	if cells, err := d.Row(validStream()); err != nil || len(cells) != len(d.Columns) {
		t.Errorf("Row = %v, %v", cells, err)
	}
	if _, err := d.Row(&imagev1.Image{}); err == nil {
		t.Error("Row accepted an image")
	}
}

func TestStreamFields(t *testing.T) {
	t.Parallel()
	s := validStream()
	s.Status.DockerImageRepository = "172.30.1.1:5000/demo/ruby"
	f := imageStreams().Fields(s)
	if f["spec.dockerImageRepository"] != "registry.example.com/demo/ruby" || f["status.dockerImageRepository"] != "172.30.1.1:5000/demo/ruby" {
		t.Errorf("fields = %v", f)
	}
}
