// Package registry runs Gantry's integrated image registry: the distribution/distribution v3
// registry application used as a library, serving the Docker Registry HTTP API v2 over plain
// HTTP and storing content on the local filesystem.
//
// With Config.Auth set (as `gantry start` and `gantry registry` do), requests are authenticated
// with Gantry tokens and authorized by RBAC on image streams (auth.go), pushes are recorded in
// image streams and tags are read from them (streams.go), and DELETE /admin/blobs/<digest> lets
// image pruners remove a blob from storage (admin.go). Without it the registry is a plain one
// (tests, benchmarks' reference).
//
// The node's containerd pulls every image Gantry needs from this registry. All configuration
// passes through Config and New, which translate it into a distribution configuration.
//
// distribution logs through logrus' process-wide standard logger. New routes that logger into
// klog once per process (warnings and errors at their klog severity, everything else at
// verbosity 4), which also applies to any other library in the binary that logs through logrus.
package registry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage"
	"k8s.io/klog/v2"
)

// drainTimeout bounds how long Run waits for in-flight requests (such as a blob upload) once its
// context is done.
const drainTimeout = 30 * time.Second

// Config configures a Registry.
type Config struct {
	// Addr is the TCP listen address, e.g. "127.0.0.1:5000". Port 0 picks a free port; see
	// Registry.Addr.
	Addr string
	// RootDir is the root of the filesystem storage when Storage is nil. It is created if
	// missing.
	RootDir string
	// Storage, when set, is where content is kept instead (another driver, see Storage).
	Storage *Storage
	// Auth turns on authentication, authorization and image stream records. Nil serves
	// everyone everything.
	Auth *Auth
}

// Auth is what an authenticated registry needs.
type Auth struct {
	Authenticator Authenticator
	Authorizer    Authorizer
	// Streams records pushes and serves tags; its Hostname defaults to Config.Addr.
	Streams *Streams
	// Realm is the Basic challenge's realm (default "Gantry registry").
	Realm string
}

// Registry is an image registry serving the v2 API. Create it with New and serve with Run.
type Registry struct {
	app     *handlers.App
	handler http.Handler

	mu   sync.Mutex
	addr string // the configured address until Run binds, then the bound one
}

// New validates cfg, creates the storage root and builds the registry application. It does not
// listen; Run does.
func New(cfg Config) (*Registry, error) {
	if cfg.Addr == "" {
		return nil, errors.New("new registry: no listen address")
	}
	st := cfg.Storage
	if st == nil {
		if cfg.RootDir == "" {
			return nil, errors.New("new registry: no storage root directory")
		}
		if err := os.MkdirAll(cfg.RootDir, 0o700); err != nil {
			return nil, fmt.Errorf("create registry storage root: %w", err)
		}
		st = FilesystemStorage(cfg.RootDir)
	} else if err := st.check(); err != nil {
		return nil, fmt.Errorf("new registry: %w", err)
	}
	// The secret signs upload session state handed to clients between requests. Sessions never
	// outlive the process, so a random per-process secret is enough (and keeps distribution from
	// generating one itself with a warning).
	secret := rand.Text()

	routeLogrusToKlog()
	dc := &configuration.Configuration{
		Storage: st.configuration(),
		HTTP: configuration.HTTP{
			Addr:   cfg.Addr,
			Secret: secret,
		},
		// Bounds what one catalog request lists, whatever n a client asks for.
		Catalog: configuration.Catalog{MaxEntries: 1000},
		// No Notifications, Health, Proxy, Redis or Debug sections: those extras of the
		// standalone registry stay off. Access logging is done only by distribution's
		// standalone server, which is not used.
	}
	var ac *accessController
	if a := cfg.Auth; a != nil {
		if a.Authenticator == nil || a.Authorizer == nil || a.Streams == nil {
			return nil, errors.New("new registry: authentication needs an authenticator, an authorizer and image stream hooks")
		}
		realm := a.Realm
		if realm == "" {
			realm = "Gantry registry"
		}
		ac = &accessController{authn: a.Authenticator, authz: a.Authorizer, realm: realm}
		a.Streams.authz = a.Authorizer
		if a.Streams.Hostname == "" {
			a.Streams.Hostname = cfg.Addr
		}
		registerAccessController()
		registerStreamsMiddleware()
		dc.Auth = configuration.Auth{authName: configuration.Parameters{"controller": ac}}
		dc.Middleware = map[string][]configuration.Middleware{
			"repository": {{Name: middlewareName, Options: configuration.Parameters{"streams": a.Streams}}},
		}
	}
	app, err := newApp(dc)
	if err != nil {
		return nil, err
	}
	r := &Registry{app: app, addr: cfg.Addr, handler: app}
	if ac != nil {
		admin, err := newAdmin(st, ac)
		if err != nil {
			return nil, err
		}
		// Reads of images tagged in from another repository go to the same storage.
		if cfg.Auth.Streams.namespace, err = storage.NewRegistry(context.Background(), admin.driver); err != nil {
			return nil, fmt.Errorf("open registry storage: %w", err)
		}
		r.handler = withState(app, admin)
	}
	r.handler = alive(r.handler)
	return r, nil
}

// alive answers GET and HEAD of / and /healthz with 200 and no authentication, as the registry
// server of distribution (for /) and the OpenShift 3 registry (/healthz) did: `oc adm prune images`
// checks that the registry is there with them before it deletes anything.
func alive(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.URL.Path == "/" || r.URL.Path == "/healthz") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set("Cache-Control", "no-cache")
			w.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Handler is the registry's HTTP handler (for serving it on a listener of one's own).
func (r *Registry) Handler() http.Handler { return r.handler }

// newApp calls handlers.NewApp, which reports configuration errors by panicking, and turns such a
// panic into an error.
func newApp(config *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configure registry: %v", r)
		}
	}()
	return handlers.NewApp(context.Background(), config), nil
}

// Addr returns the address the registry listens on once Run has bound it (the configured
// address before that). Use it after ready has been called when Config.Addr had port 0.
func (r *Registry) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// Run binds the listen address, serves the registry API and calls ready (if not nil) once
// GET /v2/ answers (200, or 401 when authenticating) through the bound listener. When ctx is done it stops accepting
// connections, waits up to 30s for in-flight requests and returns nil. It returns an error if
// the address cannot be bound, the readiness probe fails, or serving fails. Run may be called
// only once per Registry.
func (r *Registry) Run(ctx context.Context, ready func()) error {
	addr := r.Addr()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, listenCause(err))
	}
	r.mu.Lock()
	r.addr = ln.Addr().String()
	r.mu.Unlock()

	srv := &http.Server{
		Handler: r.handler,
		// Bounds slow header senders only: blob uploads and downloads may legitimately take long.
		ReadHeaderTimeout: 30 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	probeErr := make(chan error, 1)
	go func() { probeErr <- probe(ctx, ln.Addr().String()) }()

	for {
		select {
		case err := <-probeErr:
			if err != nil && ctx.Err() == nil {
				return errors.Join(fmt.Errorf("check registry readiness: %w", err), shutdown(srv, r.app))
			}
			if err == nil {
				klog.InfoS("Registry serving", "addr", ln.Addr().String())
				if ready != nil {
					ready()
				}
			}
			probeErr = nil // a nil channel is never ready: stop selecting on it
		case err := <-serveErr:
			return errors.Join(fmt.Errorf("serve registry: %w", err), shutdown(srv, r.app))
		case <-ctx.Done():
			return shutdown(srv, r.app)
		}
	}
}

// listenCause strips the "listen tcp <addr>: bind:" layers from a listen error so the caller's
// "listen <addr>: " prefix reads naturally ("listen 127.0.0.1:5000: address already in use"),
// keeping the syscall error (errors.Is(err, syscall.EADDRINUSE) still holds).
func listenCause(err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		err = opErr.Err
	}
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		err = sysErr.Err
	}
	return err
}

// probe checks that GET http://addr/v2/ answers 200 or 401. The listener is already bound, so the
// connection is queued by the kernel until the server accepts it and no retry is needed.
func probe(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url := "http://" + addr + "/v2/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	// A dedicated transport: no proxy from the environment, no idle connection left behind.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	defer resp.Body.Close()
	// 401: an authenticating registry answers, and challenges the anonymous probe.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("probe %s: status %s", url, resp.Status)
	}
	return nil
}

// shutdown stops srv gracefully, waiting up to drainTimeout for in-flight requests, then releases
// the application's resources.
func shutdown(srv *http.Server, app *handlers.App) error {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shut down registry server: %w", err))
	}
	if err := app.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("shut down registry: %w", err))
	}
	return errors.Join(errs...)
}
