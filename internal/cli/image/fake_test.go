package image

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	"github.com/openshift/client-go/image/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clienttesting "k8s.io/client-go/testing"
)

var streamsGVR = imagev1.SchemeGroupVersion.WithResource("imagestreams")

// fakeServer is the fake image clientset with imagestreamtags served as Gantry serves them:
// writes set the spec tag of the stream (creating the stream), deletes remove spec and status.
func fakeServer(t *testing.T, objects ...runtime.Object) *fake.Clientset {
	t.Helper()
	cs := fake.NewSimpleClientset(objects...)
	tracker := cs.Tracker()
	write := func(action clienttesting.Action) (bool, runtime.Object, error) {
		var ist *imagev1.ImageStreamTag
		switch a := action.(type) {
		case clienttesting.UpdateAction:
			ist = a.GetObject().(*imagev1.ImageStreamTag)
		case clienttesting.CreateAction:
			ist = a.GetObject().(*imagev1.ImageStreamTag)
		}
		ns := action.GetNamespace()
		name, tag, ok := strings.Cut(ist.Name, ":")
		if !ok || ist.Tag == nil {
			return true, nil, apierrors.NewBadRequest("bad image stream tag " + ist.Name)
		}
		obj, err := tracker.Get(streamsGVR, ns, name)
		exists := err == nil
		s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		if exists {
			s = obj.(*imagev1.ImageStream).DeepCopy()
		} else if !apierrors.IsNotFound(err) {
			return true, nil, err
		}
		ref := ist.Tag.DeepCopy()
		ref.Name = tag
		replaced := false
		for i := range s.Spec.Tags {
			if s.Spec.Tags[i].Name == tag {
				s.Spec.Tags[i], replaced = *ref, true
			}
		}
		if !replaced {
			s.Spec.Tags = append(s.Spec.Tags, *ref)
		}
		if exists {
			err = tracker.Update(streamsGVR, s, ns)
		} else {
			err = tracker.Create(streamsGVR, s, ns)
		}
		return true, ist, err
	}
	cs.PrependReactor("update", "imagestreamtags", write)
	cs.PrependReactor("create", "imagestreamtags", write)
	cs.PrependReactor("delete", "imagestreamtags", func(action clienttesting.Action) (bool, runtime.Object, error) {
		a := action.(clienttesting.DeleteAction)
		name, tag, _ := strings.Cut(a.GetName(), ":")
		obj, err := tracker.Get(streamsGVR, a.GetNamespace(), name)
		if err != nil {
			return true, nil, apierrors.NewNotFound(imagev1.Resource("imagestreamtags"), a.GetName())
		}
		s := obj.(*imagev1.ImageStream).DeepCopy()
		found := false
		var spec []imagev1.TagReference
		for _, t := range s.Spec.Tags {
			if t.Name == tag {
				found = true
				continue
			}
			spec = append(spec, t)
		}
		var status []imagev1.NamedTagEventList
		for _, l := range s.Status.Tags {
			if l.Tag == tag {
				found = true
				continue
			}
			status = append(status, l)
		}
		if !found {
			return true, nil, apierrors.NewNotFound(imagev1.Resource("imagestreamtags"), a.GetName())
		}
		s.Spec.Tags, s.Status.Tags = spec, status
		return true, nil, tracker.Update(streamsGVR, s, a.GetNamespace())
	})
	return cs
}

// stream builds an image stream; status is tag → newest image.
func stream(ns, name string, status map[string]string, spec ...imagev1.TagReference) *imagev1.ImageStream {
	s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "7"}}
	s.Spec.Tags = spec
	for tag, image := range status {
		s.Status.Tags = append(s.Status.Tags, imagev1.NamedTagEventList{Tag: tag, Items: []imagev1.TagEvent{{
			Image: image, DockerImageReference: fmt.Sprintf("127.0.0.1:5000/%s/%s@%s", ns, name, image),
		}}})
	}
	return s
}

func getStream(t *testing.T, cs *fake.Clientset, ns, name string) *imagev1.ImageStream {
	t.Helper()
	obj, err := cs.Tracker().Get(streamsGVR, ns, name)
	if err != nil {
		t.Fatalf("image stream %s/%s: %v", ns, name, err)
	}
	return obj.(*imagev1.ImageStream)
}

func specTag(s *imagev1.ImageStream, tag string) *imagev1.TagReference {
	for i := range s.Spec.Tags {
		if s.Spec.Tags[i].Name == tag {
			return &s.Spec.Tags[i]
		}
	}
	return nil
}

func testStreams() (genericiooptions.IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: errOut}, out, errOut
}
