package registry

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/distribution/v3/registry/auth"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// adminBlobsPath is where image pruners delete blobs from storage:
// DELETE /admin/blobs/<digest>. Distribution's own API only unlinks a blob
// from a repository; the data stays until an offline garbage collection.
// `gantry adm prune images` removes the repository links first, then the
// blob, so storage shrinks as soon as images are pruned.
const adminBlobsPath = "/admin/blobs/"

type admin struct {
	driver storagedriver.StorageDriver
	ac     *accessController
}

func newAdmin(st *Storage, ac *accessController) (*admin, error) {
	d, err := st.driver(context.Background())
	if err != nil {
		return nil, err
	}
	return &admin{driver: d, ac: ac}, nil
}

// withState wraps the registry application: every request gets the state
// the access controller and middleware share, and /admin/ goes to admin.
func withState(app http.Handler, a *admin) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &sealedWriter{ResponseWriter: w}
		st := &requestState{w: sw, method: r.Method}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		if strings.HasPrefix(r.URL.Path, "/admin/") {
			a.ServeHTTP(sw, r)
			return
		}
		if err := checkContentRange(r); err != nil {
			_ = errcode.ServeJSON(sw, err)
			return
		}
		app.ServeHTTP(sw, r)
	})
}

func (a *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rest, ok := strings.CutPrefix(r.URL.Path, adminBlobsPath)
	if !ok || rest == "" || strings.Contains(rest, "/") {
		_ = errcode.ServeJSON(w, errcode.ErrorCodeUnsupported.WithMessage("the only admin endpoint is DELETE "+adminBlobsPath+"<digest>"))
		return
	}
	if r.Method != http.MethodDelete {
		w.Header().Set("Allow", http.MethodDelete)
		_ = errcode.ServeJSON(w, errcode.ErrorCodeUnsupported.WithMessage("use DELETE on "+adminBlobsPath+"<digest>"))
		return
	}
	dgst, err := digest.Parse(rest)
	if err != nil {
		_ = errcode.ServeJSON(w, errcode.ErrorCodeDigestInvalid.WithMessage("invalid digest "+rest+": "+err.Error()))
		return
	}
	access := auth.Access{Resource: auth.Resource{Type: "admin", Name: "blobs"}, Action: "delete"}
	if _, err := a.ac.Authorized(r, access); err != nil {
		var ch auth.Challenge
		if errors.As(err, &ch) {
			ch.SetHeaders(r, w)
			return
		}
		_ = errcode.ServeJSON(w, errcode.ErrorCodeUnknown.WithMessage(err.Error()))
		return
	}
	err = storage.NewVacuum(r.Context(), a.driver).RemoveBlob(dgst.String())
	var notFound storagedriver.PathNotFoundError
	switch {
	case errors.As(err, &notFound):
		_ = errcode.ServeJSON(w, errcode.ErrorCodeBlobUnknown.WithDetail(dgst))
	case err != nil:
		_ = errcode.ServeJSON(w, errcode.ErrorCodeUnknown.WithMessage("delete blob "+dgst.String()+": "+err.Error()))
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

// checkContentRange refuses a malformed Content-Range on a chunk upload with 416, as the
// distribution spec asks; distribution itself answers 500 to some (a missing start, a number that
// overflows).
func checkContentRange(r *http.Request) error {
	cr := r.Header.Get("Content-Range")
	if r.Method != http.MethodPatch || cr == "" {
		return nil
	}
	start, end, ok := strings.Cut(cr, "-")
	s, err1 := strconv.ParseInt(start, 10, 64)
	e, err2 := strconv.ParseInt(end, 10, 64)
	if !ok || err1 != nil || err2 != nil || s < 0 || e < s || start[0] == '+' || end[0] == '+' {
		return errcode.Error{Code: errcode.ErrorCodeRangeInvalid, Message: "Content-Range " + strconv.Quote(cr) + " is not <start>-<end> with 0 <= start <= end"}
	}
	return nil
}
