package model

import (
	"fmt"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
)

// benchRoutes makes n routes over n/10 namespaces: most plain, every tenth
// edge with its own certificate, every fifth with a path on a shared host,
// some colliding on hosts so claims have work to do.
func benchRoutes(b *testing.B, n int) []*routev1.Route {
	p := pki(b)
	certs := p.leaf("bench.example.com", "ca1")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	routes := make([]*routev1.Route, 0, n)
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("ns-%d", i%(n/10+1))
		host := fmt.Sprintf("app-%d.apps.example.com", i)
		r := newRoute(ns, fmt.Sprintf("route-%d", i), host, base.Add(time.Duration(i)*time.Second))
		r.Labels = map[string]string{"shard": "a"}
		r.ResourceVersion = "1"
		switch {
		case i%10 == 0:
			r.Spec.TLS = &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge, Certificate: certs.certPEM, Key: certs.keyPEM,
				InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyRedirect}
		case i%5 == 0:
			r.Spec.Host = fmt.Sprintf("shared-%d.apps.example.com", i%50)
			r.Spec.Path = fmt.Sprintf("/p%d", i)
		case i%7 == 0:
			r.Spec.Host = fmt.Sprintf("app-%d.apps.example.com", i-1) // collides
		}
		r.Annotations = map[string]string{AnnotationTimeout: "30s"}
		routes = append(routes, r)
	}
	return routes
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{100, 10000} {
		routes := benchRoutes(b, n)
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			builder := mustBuilder(b, Config{RouteSelector: "shard=a"})
			builder.Build(routes, nil) // certificates parsed once, as in a running router
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				builder.Build(routes, nil)
			}
		})
	}
}

func BenchmarkBuildCold10000(b *testing.B) {
	routes := benchRoutes(b, 10000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		mustBuilder(b, Config{}).Build(routes, nil)
	}
}

func BenchmarkLookup10000(b *testing.B) {
	snap, _ := mustBuilder(b, Config{}).Build(benchRoutes(b, 10000), nil)
	hosts := snap.Hosts()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if snap.Lookup(hosts[i%len(hosts)], "/p123/x") == nil {
			b.Fatal("no route")
		}
	}
}
