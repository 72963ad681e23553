package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

var networks = []string{"udp", "tcp"}

// startServer runs a server for cfg, listening on a free loopback port
// unless cfg.Listen is set, until the test ends, and returns its address.
func startServer(t *testing.T, cfg Config, client kubernetes.Interface) string {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []string{"127.0.0.1:0"}
	}
	s, err := New(cfg, client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return s.addrs[0]
}

// startUpstream serves the DNS handler over UDP and TCP on a free loopback
// port until the test ends, and returns its address. A nil handler never
// answers.
func startUpstream(t *testing.T, handler dns.Handler) string {
	t.Helper()
	pc, l, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	servers := []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: l, Handler: handler}}
	t.Cleanup(func() { stop(servers) })
	if handler == nil {
		return pc.LocalAddr().String()
	}
	var started sync.WaitGroup
	for _, srv := range servers {
		started.Add(1)
		srv.NotifyStartedFunc = started.Done
		go func() { _ = srv.ActivateAndServe() }()
	}
	started.Wait()
	return pc.LocalAddr().String()
}

// upstreamA answers every query with the A record 192.0.2.1.
var upstreamA = dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg).SetReply(req)
	m.Answer = []dns.RR{&dns.A{
		Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
		A:   net.IPv4(192, 0, 2, 1),
	}}
	_ = w.WriteMsg(m)
})

// unreachable returns a loopback address where nothing listens.
func unreachable(t *testing.T) string {
	t.Helper()
	pc, l, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
	l.Close()
	return pc.LocalAddr().String()
}

func exchange(t *testing.T, network, addr string, req *dns.Msg) *dns.Msg {
	t.Helper()
	client := &dns.Client{Net: network, Timeout: 10 * time.Second}
	resp, _, err := client.ExchangeContext(t.Context(), req, addr)
	if err != nil {
		t.Fatalf("exchange %s over %s: %v", req.Question[0].Name, network, err)
	}
	return resp
}

func query(t *testing.T, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	return exchange(t, network, addr, new(dns.Msg).SetQuestion(name, qtype))
}

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-tick.C:
		}
	}
}

func TestServer(t *testing.T) {
	t.Parallel()
	addr := startServer(t, Config{Upstreams: []string{startUpstream(t, upstreamA)}}, fake.NewClientset(fixtures()...))
	for _, network := range networks {
		for _, tc := range resolveCases {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				resp := query(t, network, addr, tc.qname, tc.qtype)
				if !tc.forward {
					checkResponse(t, tc, resp)
					return
				}
				want := normalize(t, []string{tc.qname + " 60 IN A 192.0.2.1"})
				if got := format(resp.Answer); resp.Rcode != dns.RcodeSuccess || !slices.Equal(got, want) {
					t.Errorf("forwarded: rcode %s, answer %q; want NOERROR, %q", dns.RcodeToString[resp.Rcode], got, want)
				}
			})
		}
	}
}

func TestServerRejects(t *testing.T) {
	t.Parallel()
	addr := startServer(t, Config{}, fake.NewClientset(fixtures()...))
	twoQuestions := new(dns.Msg).SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
	twoQuestions.Question = append(twoQuestions.Question, dns.Question{Name: "db.default.svc.cluster.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	chaos := new(dns.Msg).SetQuestion("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	notify := new(dns.Msg).SetNotify("cluster.local.")
	update := new(dns.Msg).SetUpdate("cluster.local.")
	for _, tc := range []struct {
		name  string
		req   *dns.Msg
		rcode int
	}{
		{"two questions", twoQuestions, dns.RcodeFormatError},
		{"root", new(dns.Msg).SetQuestion(".", dns.TypeNS), dns.RcodeRefused},
		{"CHAOS class", chaos, dns.RcodeRefused},
		{"notify", notify, dns.RcodeNotImplemented},
		{"update", update, dns.RcodeNotImplemented},
	} {
		for _, network := range networks {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				if resp := exchange(t, network, addr, tc.req); resp.Rcode != tc.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
				}
			})
		}
	}
}

func TestServerForwardFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		upstreams func(t *testing.T) []string
	}{
		{"no upstreams", func(*testing.T) []string { return nil }},
		{"unreachable upstream", func(t *testing.T) []string { return []string{unreachable(t)} }},
		{"silent upstream", func(t *testing.T) []string { return []string{startUpstream(t, nil)} }},
		{"unreachable, then silent", func(t *testing.T) []string {
			return []string{unreachable(t), startUpstream(t, nil)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := startServer(t, Config{Upstreams: tc.upstreams(t)}, fake.NewClientset())
			for _, network := range networks {
				if resp := query(t, network, addr, "example.com.", dns.TypeA); resp.Rcode != dns.RcodeServerFailure {
					t.Errorf("%s: rcode %s, want SERVFAIL", network, dns.RcodeToString[resp.Rcode])
				}
			}
		})
	}
}

func TestServerForwardsToNextUpstream(t *testing.T) {
	t.Parallel()
	addr := startServer(t, Config{Upstreams: []string{unreachable(t), startUpstream(t, upstreamA)}}, fake.NewClientset())
	for _, network := range networks {
		resp := query(t, network, addr, "example.com.", dns.TypeA)
		if got, want := format(resp.Answer), normalize(t, []string{"example.com. 60 IN A 192.0.2.1"}); !slices.Equal(got, want) {
			t.Errorf("%s: answer %q, want %q", network, got, want)
		}
	}
}

func TestServerTruncates(t *testing.T) {
	t.Parallel()
	var eps []discoveryv1.Endpoint
	for i := range 100 {
		eps = append(eps, sliceEndpoint(fmt.Sprintf("10.3.0.%d", i+1), "", nil))
	}
	addr := startServer(t, Config{}, fake.NewClientset(
		service("default", "big", corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}),
		endpointSlice("default", "big", "big-1", discoveryv1.AddressTypeIPv4, nil, eps...),
	))
	edns := new(dns.Msg).SetQuestion("big.default.svc.cluster.local.", dns.TypeA).SetEdns0(4096, false)
	for _, tc := range []struct {
		name      string
		network   string
		req       *dns.Msg
		truncated bool
	}{
		{"UDP", "udp", new(dns.Msg).SetQuestion("big.default.svc.cluster.local.", dns.TypeA), true},
		{"UDP with EDNS", "udp", edns, false},
		{"TCP", "tcp", new(dns.Msg).SetQuestion("big.default.svc.cluster.local.", dns.TypeA), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := exchange(t, tc.network, addr, tc.req)
			if resp.Truncated != tc.truncated {
				t.Errorf("truncated %t, want %t", resp.Truncated, tc.truncated)
			}
			if n := len(resp.Answer); tc.truncated != (n < 100) || n == 0 {
				t.Errorf("%d answers of 100", n)
			}
			if (tc.req.IsEdns0() != nil) != (resp.IsEdns0() != nil) {
				t.Errorf("EDNS in response %t, in request %t", resp.IsEdns0() != nil, tc.req.IsEdns0() != nil)
			}
		})
	}
}

func TestServerSeesUpdates(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	// The fake clientset drops events that happen before a watch exists,
	// so wait for the informer's watch before changing services.
	watching := make(chan struct{})
	var once sync.Once
	client.PrependWatchReactor("services", func(action clienttesting.Action) (bool, watch.Interface, error) {
		w, err := client.Tracker().Watch(action.GetResource(), action.GetNamespace())
		once.Do(func() { close(watching) })
		return true, w, err
	})
	addr := startServer(t, Config{TTL: 5, Domain: "Example.Test"}, client)
	<-watching

	const name = "late.default.svc.example.test."
	if resp := query(t, "udp", addr, name, dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("before create: rcode %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
	svc := clusterIPService("default", "late", []string{"10.0.0.99"})
	if _, err := client.CoreV1().Services("default").Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := normalize(t, []string{name + " 5 IN A 10.0.0.99"})
	waitFor(t, "the created service to resolve", func() bool {
		return slices.Equal(format(query(t, "udp", addr, name, dns.TypeA).Answer), want)
	})
	if err := client.CoreV1().Services("default").Delete(t.Context(), "late", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted service to be gone", func() bool {
		return query(t, "udp", addr, name, dns.TypeA).Rcode == dns.RcodeNameError
	})
}

func TestRunListenError(t *testing.T) {
	t.Parallel()
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.LocalAddr().String()
	s, err := New(Config{Listen: []string{"127.0.0.1:0", addr}}, fake.NewClientset())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(t.Context(), func() { t.Error("ready called") })
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "listen udp "+addr) {
		t.Fatalf("run: %v, want listen udp %s: address already in use", err, addr)
	}
}

func TestRunCanceled(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Listen: []string{"127.0.0.1:0"}}, fake.NewClientset())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Run(ctx, func() {}); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // "" if valid
	}{
		{"defaults", Config{Listen: []string{":53"}}, ""},
		{"domain", Config{Domain: "Corp.Example.", Listen: []string{":53"}, Upstreams: []string{"[::1]:53"}}, ""},
		{"root domain", Config{Domain: ".", Listen: []string{":53"}}, `invalid domain "."`},
		{"bad domain", Config{Domain: "a..b", Listen: []string{":53"}}, `invalid domain "a..b"`},
		{"no listen", Config{}, "no listen addresses"},
		{"upstream without port", Config{Listen: []string{":53"}, Upstreams: []string{"10.0.0.1"}}, "parse upstream: address 10.0.0.1: missing port in address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.cfg, fake.NewClientset())
			if got := fmt.Sprint(err); tc.err == "" && err != nil || tc.err != "" && got != tc.err {
				t.Errorf("New: %v, want %q", err, tc.err)
			}
		})
	}
}

// recorder is a dns.ResponseWriter that keeps the message written.
type recorder struct {
	dns.ResponseWriter
	msg *dns.Msg
}

func (r *recorder) RemoteAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353} }

func (r *recorder) WriteMsg(m *dns.Msg) error {
	r.msg = m
	return nil
}

func TestServeDNS(t *testing.T) {
	t.Parallel()
	s := &Server{resolver: newTestResolver(fixtures()...)}
	w := &recorder{}
	response := new(dns.Msg).SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
	response.Response = true
	s.serveDNS(w, response)
	if w.msg != nil {
		t.Errorf("answered a response: %v", w.msg)
	}

	broken := &Server{} // no resolver: answering panics
	broken.serveDNS(w, new(dns.Msg).SetQuestion("web.default.svc.cluster.local.", dns.TypeA))
	if w.msg == nil || w.msg.Rcode != dns.RcodeServerFailure {
		t.Errorf("after a panic: %v, want SERVFAIL", w.msg)
	}
}

func FuzzHandler(f *testing.F) {
	for _, tc := range resolveCases {
		req := new(dns.Msg).SetQuestion(tc.qname, tc.qtype)
		b, err := req.SetEdns0(1232, true).Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	s := &Server{resolver: newTestResolver(append(fixtures(), runtime.Object(
		service("default", "long", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: strings.Repeat("x", 63) + ".example.com"}),
	))...)}
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(dns.Msg)
		if req.Unpack(b) != nil {
			return
		}
		for _, network := range networks {
			resp := s.answer(req, network)
			if _, err := resp.Pack(); err != nil {
				t.Errorf("pack response over %s: %v\nrequest:\n%v\nresponse:\n%v", network, err, req, resp)
			}
		}
	})
}
