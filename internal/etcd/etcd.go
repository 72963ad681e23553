// Package etcd runs the embedded etcd member that stores the cluster's state.
//
// It listens on loopback only, speaks TLS and accepts only clients holding a certificate of its own CA
// (kube-apiserver's), so no other local user can read the cluster's secrets.
package etcd

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Config of the member.
type Config struct {
	// DataDir holds the member's data; it survives restarts.
	DataDir string
	// ClientURL and PeerURL are https:// URLs on loopback.
	ClientURL, PeerURL string
	// CertFile, KeyFile serve both URLs; TrustedCAFile verifies clients and peers.
	CertFile, KeyFile, TrustedCAFile string
	// LogFile receives etcd's logs.
	LogFile string
	// StartTimeout bounds the wait for the member to be ready.
	StartTimeout time.Duration
}

// Run starts the member, calls ready once it serves clients, and stops it when ctx is done.
func Run(ctx context.Context, c Config, ready func()) error {
	cfg := embed.NewConfig()
	cfg.Name = "gantry"
	cfg.Dir = c.DataDir
	client, err := url.Parse(c.ClientURL)
	if err != nil {
		return fmt.Errorf("client URL: %w", err)
	}
	peer, err := url.Parse(c.PeerURL)
	if err != nil {
		return fmt.Errorf("peer URL: %w", err)
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	for _, tls := range []*struct {
		cert, key, ca *string
		auth          *bool
	}{
		{&cfg.ClientTLSInfo.CertFile, &cfg.ClientTLSInfo.KeyFile, &cfg.ClientTLSInfo.TrustedCAFile, &cfg.ClientTLSInfo.ClientCertAuth},
		{&cfg.PeerTLSInfo.CertFile, &cfg.PeerTLSInfo.KeyFile, &cfg.PeerTLSInfo.TrustedCAFile, &cfg.PeerTLSInfo.ClientCertAuth},
	} {
		*tls.cert, *tls.key, *tls.ca, *tls.auth = c.CertFile, c.KeyFile, c.TrustedCAFile, true
	}
	cfg.Logger = "zap"
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{c.LogFile}
	// Keep the database small on a single machine: compact history older than an hour.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start etcd in %s: %w", c.DataDir, err)
	}
	defer e.Close()
	timeout := c.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	select {
	case <-e.Server.ReadyNotify():
		ready()
	case err := <-e.Err():
		return err
	case <-time.After(timeout):
		return fmt.Errorf("etcd not ready after %s; see %s", timeout, c.LogFile)
	case <-ctx.Done():
		return nil
	}
	select {
	case err := <-e.Err():
		return err
	case <-ctx.Done():
		return nil
	}
}
