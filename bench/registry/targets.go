package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	imagev1 "github.com/openshift/api/image/v1"
	projectv1 "github.com/openshift/api/project/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	projectclient "github.com/openshift/client-go/project/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/bench/internal/benchutil"
	"github.com/gantry-dev/gantry/test/harness"
)

// project is the namespace part of every repository, in both registries, so that requests have the
// same paths: <project>/<stream>.
const project = "bench-registry"

// target is a registry under test and how the client reaches it.
type target struct {
	name string
	host string // host:port
	auth authn.Authenticator
	rt   http.RoundTripper
	// machine is shared by the targets of a run: what CPU is counted as gantry's.
	machine *machine
	// requests are the HTTP requests the client sent to the registry since the last take.
	mu       sync.Mutex
	requests map[string]reqStat
	// recorded checks, after a push of images, that the registry recorded them elsewhere (the
	// integrated registry in image streams); nil when there is nothing to check.
	recorded func(ctx context.Context, want map[string]pushed) error
}

// pushed is an image pushed as stream:tag.
type pushed struct {
	stream, tag string
	digest      string
}

// errHTTPS refuses go-containerregistry's HTTPS probe: it pings a registry on 127.0.0.1 over HTTPS
// and over HTTP at once, and the HTTPS attempt would cost every push and pull a connection and a
// failed TLS handshake on the server. Refused here, it never leaves the client.
var errHTTPS = errors.New("the benchmark's registries speak plain HTTP")

// RoundTrip sends a request and counts it and the time to its response's header by kind.
func (t *target) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "https" {
		return nil, errHTTPS
	}
	start := time.Now()
	resp, err := t.rt.RoundTrip(r)
	d := time.Since(start)
	kind := requestKind(r)
	t.mu.Lock()
	st := t.requests[kind]
	st.n++
	st.total += d
	t.requests[kind] = st
	t.mu.Unlock()
	return resp, err
}

// take returns the requests counted since the last take and starts counting afresh.
func (t *target) take() map[string]reqStat {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.requests
	t.requests = map[string]reqStat{}
	return out
}

func (t *target) repo(stream string) string { return t.host + "/" + project + "/" + stream }

// options are the client's options: the target's credentials and connection pool, and no retries
// (a retried request would hide a failure and count twice in the time).
func (t *target) options(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(t.auth),
		remote.WithTransport(t),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
	}
}

// newTransport is a connection pool of the benchmark's own for one registry: plain HTTP on loopback,
// no proxy from the environment, enough idle connections for every worker, no transparent gzip.
func newTransport() http.RoundTripper {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// startPlain runs a plain registry in this process (benchutil.StartPlainRegistry).
func startPlain(name string) (t *target, stop func(), err error) {
	addr, stop, err := benchutil.StartPlainRegistry()
	if err != nil {
		return nil, nil, err
	}
	return &target{name: name, host: addr, auth: authn.Anonymous, rt: newTransport(), requests: map[string]reqStat{}}, stop, nil
}

// integrated is the registry of a running cluster (127.0.0.1:5000), reached as a user who requested
// the project and so is its admin (may push and pull), with their OAuth token as the Basic
// password, the way `docker login -u unused -p $(gantry whoami -t)` does.
func integrated(ctx context.Context, c *harness.Cluster) (*target, error) {
	const user = "bench-registry-user"
	token, err := c.NewUser(ctx, user)
	if err != nil {
		return nil, err
	}
	pc, err := projectclient.NewForConfig(c.TokenConfig(token))
	if err != nil {
		return nil, err
	}
	if _, err := pc.ProjectV1().ProjectRequests().Create(ctx, &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: project}}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("request project %s as %s: %w", project, user, err)
	}
	ic, err := imageclient.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	t := &target{name: "integrated", host: harness.Registry, auth: &authn.Basic{Username: "unused", Password: token}, rt: newTransport(), requests: map[string]reqStat{}}
	t.recorded = func(ctx context.Context, want map[string]pushed) error {
		return checkStreams(ctx, ic, want)
	}
	return t, nil
}

// checkStreams checks that every pushed image is the latest image of its tag in its stream.
func checkStreams(ctx context.Context, ic imageclient.Interface, want map[string]pushed) error {
	streams := map[string]*imagev1.ImageStream{}
	var missing []string
	for _, p := range want {
		s, ok := streams[p.stream]
		if !ok {
			var err error
			if s, err = ic.ImageV1().ImageStreams(project).Get(ctx, p.stream, metav1.GetOptions{}); err != nil {
				return fmt.Errorf("image stream %s/%s of pushed images: %w", project, p.stream, err)
			}
			streams[p.stream] = s
		}
		got := ""
		for _, tag := range s.Status.Tags {
			if tag.Tag == p.tag && len(tag.Items) > 0 {
				got = tag.Items[0].Image
			}
		}
		if got != p.digest {
			missing = append(missing, fmt.Sprintf("%s:%s is %q, want %s", p.stream, p.tag, got, p.digest))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d of %d pushes not recorded in their image streams, e.g. %s", len(missing), len(want), missing[0])
	}
	return nil
}
