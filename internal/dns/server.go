package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

const (
	forwardTimeout  = 2 * time.Second // for all upstreams of one query together
	shutdownTimeout = 5 * time.Second // to finish the queries in flight
)

// Config configures a Server.
type Config struct {
	Domain    string   // "cluster.local" if empty
	Listen    []string // host:port addresses; each served over UDP and TCP
	Upstreams []string // host:port of resolvers for names outside Domain
	TTL       uint32   // 30 if 0
}

// Server is the cluster DNS server.
type Server struct {
	listen    []string
	upstreams []string
	factory   informers.SharedInformerFactory
	resolver  *resolver
	addrs     []string // the bound addresses, set before Run calls ready
}

// New returns a server that answers from the services and EndpointSlices it
// lists and watches with client.
func New(cfg Config, client kubernetes.Interface) (*Server, error) {
	domain := cfg.Domain
	if domain == "" {
		domain = "cluster.local"
	}
	domain = dns.CanonicalName(domain)
	if _, ok := dns.IsDomainName(domain); !ok || domain == "." {
		return nil, fmt.Errorf("invalid domain %q", cfg.Domain)
	}
	if len(cfg.Listen) == 0 {
		return nil, errors.New("no listen addresses")
	}
	for _, upstream := range cfg.Upstreams {
		if _, _, err := net.SplitHostPort(upstream); err != nil {
			return nil, fmt.Errorf("parse upstream: %w", err)
		}
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = 30
	}

	factory := informers.NewSharedInformerFactory(client, 0)
	services := factory.Core().V1().Services().Informer()
	if err := services.AddIndexers(cache.Indexers{clusterIPIndex: clusterIPKeys}); err != nil {
		return nil, fmt.Errorf("index services: %w", err)
	}
	endpointSlices := factory.Discovery().V1().EndpointSlices().Informer()
	if err := endpointSlices.AddIndexers(cache.Indexers{serviceIndex: serviceKeys}); err != nil {
		return nil, fmt.Errorf("index endpointslices: %w", err)
	}
	return &Server{
		listen:    cfg.Listen,
		upstreams: cfg.Upstreams,
		factory:   factory,
		resolver: &resolver{
			domain:         domain,
			ttl:            ttl,
			services:       services.GetIndexer(),
			endpointSlices: endpointSlices.GetIndexer(),
		},
	}, nil
}

// Run starts the informers, waits for their caches to sync, binds all
// listen addresses, calls ready once serving, and serves until ctx is done;
// then it shuts the listeners down and returns nil.
func (s *Server) Run(ctx context.Context, ready func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		s.factory.Shutdown()
	}()
	s.factory.Start(ctx.Done())
	s.factory.WaitForCacheSync(ctx.Done())
	if ctx.Err() != nil {
		return nil
	}

	handler := dns.HandlerFunc(s.serveDNS)
	var servers []*dns.Server
	for _, addr := range s.listen {
		pc, l, err := listen(addr)
		if err != nil {
			stop(servers)
			return err
		}
		s.addrs = append(s.addrs, pc.LocalAddr().String())
		servers = append(servers,
			&dns.Server{PacketConn: pc, Handler: handler, UDPSize: dns.DefaultMsgSize},
			&dns.Server{Listener: l, Handler: handler})
	}

	errc := make(chan error, len(servers))
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { errc <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-errc:
			stop(servers)
			return fmt.Errorf("serve dns: %w", err)
		}
	}
	klog.InfoS("Serving DNS", "addresses", s.addrs, "domain", s.resolver.domain, "upstreams", s.upstreams)
	ready()

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("serve dns: %w", err)
	}
	stop(servers)
	return err
}

// listen binds addr over UDP and TCP. A zero port gets a free port, the
// same for both.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	for attempt := 1; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		tcpAddr := addr
		if port == "0" {
			tcpAddr = pc.LocalAddr().String()
		}
		l, err := net.Listen("tcp", tcpAddr)
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if port != "0" || attempt == 10 {
			return nil, nil, err
		}
	}
}

// stop shuts servers down, waiting for the queries in flight, and closes
// the sockets of those that never started.
func stop(servers []*dns.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if srv.ShutdownContext(ctx) == nil {
			continue
		}
		if srv.PacketConn != nil {
			srv.PacketConn.Close()
		} else {
			srv.Listener.Close()
		}
	}
}

func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	defer func() {
		if p := recover(); p != nil {
			klog.ErrorS(nil, "Panic serving DNS query", "panic", p)
			m := new(dns.Msg)
			_ = w.WriteMsg(m.SetRcode(req, dns.RcodeServerFailure))
		}
	}()
	if req.Response {
		return
	}
	if err := w.WriteMsg(s.answer(req, w.RemoteAddr().Network())); err != nil {
		klog.V(2).InfoS("Write DNS response", "remote", w.RemoteAddr(), "err", err)
	}
}

// answer returns the response to req, received over network ("udp" or "tcp").
func (s *Server) answer(req *dns.Msg, network string) *dns.Msg {
	m := new(dns.Msg)
	switch {
	case req.Opcode != dns.OpcodeQuery:
		return m.SetRcode(req, dns.RcodeNotImplemented)
	case len(req.Question) != 1:
		return m.SetRcode(req, dns.RcodeFormatError)
	case req.Question[0].Qclass != dns.ClassINET || req.Question[0].Name == ".":
		return m.SetRcode(req, dns.RcodeRefused)
	}
	resp := s.resolver.resolve(req)
	if resp == nil {
		if resp = s.forward(req, network); resp == nil {
			return m.SetRcode(req, dns.RcodeServerFailure)
		}
		return resp
	}
	opt := req.IsEdns0()
	if opt != nil {
		resp.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), false)
	}
	switch {
	case network != "udp":
		resp.Truncate(dns.MaxMsgSize)
	case opt != nil:
		resp.Truncate(int(opt.UDPSize()))
	default:
		resp.Truncate(dns.MinMsgSize)
	}
	return resp
}

// forward asks the upstreams in turn, over network, and returns the first
// response, or nil if none answers within forwardTimeout.
func (s *Server) forward(req *dns.Msg, network string) *dns.Msg {
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	client := &dns.Client{Net: network}
	for _, upstream := range s.upstreams {
		resp, _, err := client.ExchangeContext(ctx, req, upstream)
		if err == nil {
			return resp
		}
		klog.V(2).InfoS("Forward DNS query", "upstream", upstream, "name", req.Question[0].Name, "err", err)
	}
	return nil
}
