package imagelookup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
)

// Path is where the webhook is served.
const Path = "/mutate/imagelookup"

// maxReview bounds the size of an AdmissionReview body (kube-apiserver's own request limit is 3 MiB).
const maxReview = 8 << 20

// Handler is the mutating admission webhook: it answers an admission.k8s.io/v1 AdmissionReview
// with a JSON patch rewriting the images of the object that name image streams of its project.
type Handler struct {
	Streams Streams
}

// PatchOp is one JSON patch (RFC 6902) operation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST an admission.k8s.io/v1 AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReview+1))
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxReview {
		http.Error(w, "admission review too large", http.StatusRequestEntityTooLarge)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(w, fmt.Sprintf("want an admission.k8s.io/v1 AdmissionReview with a request (%v)", err), http.StatusBadRequest)
		return
	}
	resp := h.Review(r.Context(), review.Request)
	resp.UID = review.Request.UID
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Response: resp,
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		klog.V(2).InfoS("Writing an admission response failed", "err", err)
	}
}

// Review decides one admission request: allowed, with a JSON patch when images resolve. It
// refuses the request only when image streams cannot be read.
func (h *Handler) Review(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	allow := &admissionv1.AdmissionResponse{Allowed: true}
	ops, err := h.Patch(ctx, req)
	if err != nil {
		klog.InfoS("Image lookup refused a request", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "err", err)
		return &admissionv1.AdmissionResponse{Result: &metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError,
			Message: "image lookup: " + err.Error() + "\nTry: again in a moment; the image stream API may be starting",
		}}
	}
	if len(ops) == 0 {
		return allow
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return allow
	}
	pt := admissionv1.PatchTypeJSONPatch
	allow.Patch, allow.PatchType = patch, &pt
	klog.V(2).InfoS("Resolved images from image streams", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "patch", string(patch))
	return allow
}

// Patch returns the JSON patch operations that resolve the request's images: on CREATE, and on
// UPDATE for the images that changed. Objects it does not understand, subresources other than a
// pod's ephemeral containers, and ReplicaSets, ReplicationControllers and Jobs made by a
// controller are left alone: the controller's own template was resolved when it was written,
// and a Deployment whose ReplicaSet's template differs from its own would make a new one forever.
func (h *Handler) Patch(ctx context.Context, req *admissionv1.AdmissionRequest) ([]PatchOp, error) {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return nil, nil
	}
	gvk := schema.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind}
	if _, ok := Kinds[gvk]; !ok {
		return nil, nil
	}
	switch {
	case req.SubResource == "":
	case req.SubResource == "ephemeralcontainers" && gvk.Kind == "Pod":
	default:
		return nil, nil
	}
	obj, err := ParseWorkload(gvk, req.Object.Raw)
	if err != nil {
		klog.V(2).InfoS("Image lookup cannot read an object; leaving it alone", "kind", gvk.Kind, "err", err)
		return nil, nil
	}
	switch gvk.Kind {
	case "ReplicaSet", "ReplicationController", "Job":
		if obj.Controller != "" {
			return nil, nil
		}
	}
	var old map[string]string
	if req.Operation == admissionv1.Update {
		prev, err := ParseWorkload(gvk, req.OldObject.Raw)
		if err != nil {
			return nil, nil
		}
		old = map[string]string{}
		for _, f := range prev.Images {
			old[f.List+"/"+f.Container] = f.Image
		}
	}
	var ops []PatchOp
	for _, f := range obj.Images {
		if prev, ok := old[f.List+"/"+f.Container]; ok && prev == f.Image {
			continue
		}
		ref, changed, err := Resolve(ctx, h.Streams, req.Namespace, f.Image, obj.ResolveAll)
		if err != nil {
			return nil, fmt.Errorf("resolve image %q of container %q: %w", f.Image, f.Container, err)
		}
		if changed {
			ops = append(ops, PatchOp{Op: "replace", Path: f.Path, Value: ref})
		}
	}
	return ops, nil
}
