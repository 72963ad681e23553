package idptest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Slapd binaries of the Debian package slapd.
const (
	slapdBin   = "/usr/sbin/slapd"
	slapaddBin = "/usr/sbin/slapadd"
)

// Directory constants of the test directory.
const (
	BaseDN         = "dc=example,dc=com"
	AdminDN        = "cn=admin," + BaseDN
	AdminPassword  = "admin-secret"
	SearchDN       = "cn=search," + BaseDN
	SearchPassword = "search-secret"
)

// Slapd is a running OpenLDAP server holding BaseDN, the search account SearchDN and the test's
// entries, listening on loopback for ldap:// (StartTLS available) and ldaps://.
type Slapd struct {
	// URL is ldap://127.0.0.1:<port>, LDAPSURL ldaps://127.0.0.1:<port>.
	URL, LDAPSURL string
	// CA signed the server certificate (for 127.0.0.1); CA.File is its PEM file.
	CA *CA
	// Dir holds the configuration, data and certificates.
	Dir string

	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

// SlapdOptions change the server's access rules.
type SlapdOptions struct {
	// AnonymousSearch lets unauthenticated clients search the directory. When false, only bound
	// clients (SearchDN, or a user) can read entries; anonymous clients may only bind.
	AnonymousSearch bool
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartSlapd starts slapd as a foreground child process with a configuration and database in a
// temporary directory, loads ldif (entries under BaseDN, LDIF separated by blank lines) with
// slapadd, waits until it answers, and stops it (by PID) when the test ends. The test fails,
// never skips, when slapd is not installed.
func StartSlapd(t testing.TB, ldif string, opts SlapdOptions) *Slapd {
	t.Helper()
	for _, bin := range []string{slapdBin, slapaddBin} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s is missing: the LDAP tests need the Debian packages slapd and ldap-utils; run `make deps` (as root)", bin)
		}
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	ca := NewCA(t, dir)
	certFile, keyFile, _ := ca.Issue(t, dir, "slapd", true)
	acl := `access to attrs=userPassword
	by anonymous auth
	by self read
	by * none
access to *
	by users read
	by anonymous auth
`
	if opts.AnonymousSearch {
		acl = `access to attrs=userPassword
	by anonymous auth
	by self read
	by * none
access to *
	by * read
`
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile %[2]s
TLSCertificateFile %[3]s
TLSCertificateKeyFile %[4]s
TLSVerifyClient never
database mdb
maxsize 10485760
suffix "%[5]s"
rootdn "%[6]s"
rootpw %[7]s
directory %[8]s
%[9]s`, dir, ca.File, certFile, keyFile, BaseDN, AdminDN, AdminPassword, data, acl)
	confFile := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf(`dn: %s
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: %s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: search
userPassword: %s

`, BaseDN, SearchDN, SearchPassword)
	ldifFile := filepath.Join(dir, "data.ldif")
	if err := os.WriteFile(ldifFile, []byte(base+strings.TrimSpace(ldif)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(slapaddBin, "-f", confFile, "-l", ldifFile).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}

	plain, tlsPort := freePort(t), freePort(t)
	s := &Slapd{
		URL:      fmt.Sprintf("ldap://127.0.0.1:%d", plain),
		LDAPSURL: fmt.Sprintf("ldaps://127.0.0.1:%d", tlsPort),
		CA:       ca,
		Dir:      dir,
		out:      &lockedBuffer{},
		exited:   make(chan struct{}),
	}
	// -d 0 keeps slapd in the foreground (no fork) without debug output.
	s.cmd = exec.Command(slapdBin, "-f", confFile, "-h", s.URL+"/ "+s.LDAPSURL+"/", "-d", "0")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.stop)
	s.waitReady(t, plain)
	return s
}

// waitReady polls until slapd accepts connections, for at most a minute.
func (s *Slapd) waitReady(t testing.TB, port int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-s.exited:
			t.Fatalf("slapd exited before answering:\n%s", s.out)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd does not answer on port %d after a minute:\n%s", port, s.out)
		}
	}
}

// stop ends slapd by its PID: SIGTERM, then SIGKILL if it has not exited within 30 seconds.
func (s *Slapd) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Output is what slapd printed.
func (s *Slapd) Output() string { return s.out.String() }
