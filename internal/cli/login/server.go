package login

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gantry-dev/gantry/internal/server"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultAPIPort is the port a server address without scheme and port gets: the port of the API
// server of `gantry start`.
const DefaultAPIPort = 6443

// normalizeServer turns what a person typed into a server URL: "10.127.0.1" is
// https://10.127.0.1:6443 (Gantry's API port), "https://api.example.com" is
// https://api.example.com:443; a trailing "/" is dropped.
func normalizeServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	hasScheme := strings.Contains(s, "://")
	if !hasScheme {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a server URL: %v\nTry: gantry login https://HOST:PORT", s, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("server %q: the scheme must be https (or http), not %q", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("server %q has no host\nTry: gantry login https://HOST:PORT", s)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return "", fmt.Errorf("server %q: %q is not a port number (1-65535)", s, port)
		}
	} else {
		port := DefaultAPIPort
		switch {
		case hasScheme && u.Scheme == "https":
			port = 443
		case u.Scheme == "http":
			port = 80
		}
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	}
	if u.Path == "/" {
		u.Path = ""
	}
	return u.String(), nil
}

// errHTMLPage is the answer of a server that sends a web page: the console, not the API.
var errHTMLPage = errors.New("the address answers with a web page, not the API (is it the web console?)\n" +
	"Try: gantry login with the API server's URL, as `gantry whoami --show-server` prints it (https://HOST:6443 for gantry start)")

// probe checks that the server answers over the TLS settings of cfg: a HEAD request to "/".
func probe(cfg *rest.Config) error {
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return err
	}
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodHead, (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/"}).String(), nil)
	if err != nil {
		return err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		return errHTMLPage
	}
	return nil
}

// certificateError is the x509 verification error in err, if that is what err is.
func certificateError(err error) (error, bool) {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return unknown, true
	case errors.As(err, &host):
		return host, true
	case errors.As(err, &invalid):
		return invalid, true
	}
	return nil, false
}

// describeCertificateError says in a sentence why the server's certificate is not trusted.
func describeCertificateError(err error) string {
	switch e := err.(type) {
	case x509.UnknownAuthorityError:
		return "The server uses a certificate signed by an unknown authority."
	case x509.HostnameError:
		return fmt.Sprintf("The server uses a certificate that does not match its address: %v.", e)
	default:
		return fmt.Sprintf("The server uses an invalid certificate: %v.", e)
	}
}

// connectionError explains an error of probe and says what to do.
func connectionError(server string, err error) error {
	if cerr, ok := certificateError(err); ok {
		return fmt.Errorf("%s\nTry: gantry login %s --certificate-authority=FILE with the CA that signed the server's certificate "+
			"(gantry start keeps it in /var/lib/gantry/ca.crt), or --insecure-skip-tls-verify to skip the check "+
			"(then anyone on the network path could read your password and token)", describeCertificateError(cerr), server)
	}
	var rec tls.RecordHeaderError
	if errors.As(err, &rec) {
		return fmt.Errorf("cannot talk TLS to %s (%v): the server does not speak HTTPS on this port\nTry: check the URL; gantry start's API server is https://NODE-IP:6443", server, err)
	}
	if errors.Is(err, errHTMLPage) {
		return err
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("cannot reach %s: %v\nTry: check the host and port, and that the server is running (sudo gantry start)", server, err)
	}
	return fmt.Errorf("cannot reach %s: %w", server, err)
}

// findCluster returns the first cluster of the kubeconfig for server, in name order.
func findCluster(server string, kc *clientcmdapi.Config) *clientcmdapi.Cluster {
	for _, name := range sortedKeys(kc.Clusters) {
		if c := kc.Clusters[name]; c.Server == server {
			return c
		}
	}
	return nil
}

// connect settles how to reach the server and trust its certificate, in this order:
// --insecure-skip-tls-verify; --certificate-authority; the kubeconfig's cluster for the server;
// the system's CAs; the CA of the local `gantry start`, when readable; a kubeconfig cluster that
// already skips the check; a question on the terminal. It returns a config without credentials.
func (o *LoginOptions) connect() (*rest.Config, error) {
	cfg := &rest.Config{Host: o.Server, Timeout: o.timeout}
	switch {
	case o.Insecure:
		cfg.Insecure = true
	case o.CAFile != "":
		abs, err := filepath.Abs(o.CAFile)
		if err != nil {
			return nil, err
		}
		pem, err := os.ReadFile(abs)
		if err != nil {
			return nil, fmt.Errorf("read --certificate-authority: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--certificate-authority %s holds no PEM certificate\nTry: give the CA certificate file (BEGIN CERTIFICATE)", o.CAFile)
		}
		cfg.CAFile = abs
	default:
		if c := findCluster(o.Server, o.starting); c != nil {
			cfg.Insecure = c.InsecureSkipTLSVerify
			cfg.CAFile, cfg.CAData = c.CertificateAuthority, c.CertificateAuthorityData
			if cfg.Insecure {
				cfg.CAFile, cfg.CAData = "", nil
			}
		}
	}
	err := probe(cfg)
	if err == nil {
		return cfg, nil
	}
	cerr, ok := certificateError(err)
	if !ok || o.CAFile != "" {
		if ok {
			return nil, fmt.Errorf("%s It is not signed by --certificate-authority %s.\nTry: give the CA that signed the server's certificate (gantry start keeps a copy in /var/lib/gantry/ca.crt)", describeCertificateError(cerr), o.CAFile)
		}
		return nil, connectionError(o.Server, err)
	}
	// The kubeconfig's CA (if any) does not verify the server: the local cluster's may.
	if pem, rerr := os.ReadFile(server.PublicCAFile(o.DataDir)); rerr == nil {
		local := rest.CopyConfig(cfg)
		local.CAFile, local.CAData = "", pem
		if probe(local) == nil {
			return local, nil
		}
	}
	insecure := rest.CopyConfig(cfg)
	insecure.Insecure, insecure.CAFile, insecure.CAData = true, "", nil
	if !hasInsecureCluster(o.Server, o.starting) {
		if !o.prompt.interactive() {
			return nil, connectionError(o.Server, err)
		}
		fmt.Fprintln(o.Out, describeCertificateError(cerr))
		fmt.Fprintln(o.Out, "You can bypass the certificate check, but any data you send to the server could be intercepted by others.")
		yes := o.prompt.askYesNo("Use insecure connections? (y/n): ")
		fmt.Fprintln(o.Out)
		if !yes {
			return nil, connectionError(o.Server, err)
		}
	}
	if err := probe(insecure); err != nil {
		return nil, connectionError(o.Server, err)
	}
	return insecure, nil
}

// hasInsecureCluster tells whether the kubeconfig already skips the certificate check of server.
func hasInsecureCluster(server string, kc *clientcmdapi.Config) bool {
	for _, c := range kc.Clusters {
		if c.Server == server && c.InsecureSkipTLSVerify {
			return true
		}
	}
	return false
}
