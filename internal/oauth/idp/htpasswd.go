package idp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"

	osinv1 "github.com/openshift/api/osin/v1"
	htpasswd "github.com/tg123/go-htpasswd"
	"golang.org/x/crypto/bcrypt"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// htpasswdParsers are the hash schemes accepted in htpasswd files: bcrypt (htpasswd -B, what
// WriteHTPasswd writes), Apache MD5 (-m), SHA-1 (-s), salted SHA-1, and crypt SHA-256/512. Plain
// text (-p) is refused.
var htpasswdParsers = []htpasswd.PasswdParser{
	htpasswd.AcceptBcrypt, htpasswd.AcceptMd5, htpasswd.AcceptSha, htpasswd.AcceptSsha, htpasswd.AcceptCryptSha,
}

// HTPasswd checks passwords against an Apache htpasswd file. It reads the file again when the
// file changes (another inode, size or modification time), so `htpasswd -B file user` takes
// effect at the next login. While the changed file is invalid every login fails with an error
// naming the problem, rather than going on with passwords the administrator replaced.
type HTPasswd struct {
	providerName string
	file         string

	mu      sync.Mutex
	loaded  os.FileInfo
	users   map[string]htpasswd.EncodedPasswd
	loadErr error
}

var _ PasswordAuthenticator = (*HTPasswd)(nil)

// NewHTPasswd reads file and returns its authenticator; identities are named <providerName>:<user>.
func NewHTPasswd(providerName, file string) (*HTPasswd, error) {
	h := &HTPasswd{providerName: providerName, file: file}
	if err := h.reload(); err != nil {
		return nil, err
	}
	return h, nil
}

func buildHTPasswd(_ context.Context, p *Provider, obj runtime.Object, fld *field.Path) field.ErrorList {
	cfg := obj.(*osinv1.HTPasswdPasswordIdentityProvider)
	fileFld := fld.Child("provider", "file")
	if cfg.File == "" {
		return field.ErrorList{field.Required(fileFld, "must name the htpasswd file (create one with `htpasswd -c -B FILE USER`)")}
	}
	h, err := NewHTPasswd(p.Name, cfg.File)
	if err != nil {
		return field.ErrorList{field.Invalid(fileFld, cfg.File, err.Error())}
	}
	p.Password = h
	return nil
}

// reloadLocked reads the file if it changed since the last read; the caller holds h.mu.
func (h *HTPasswd) reloadLocked() error {
	fi, err := os.Stat(h.file)
	if err != nil {
		h.loadErr = fmt.Errorf("htpasswd file: %w", err)
		return h.loadErr
	}
	if h.loaded != nil && os.SameFile(fi, h.loaded) && fi.ModTime().Equal(h.loaded.ModTime()) && fi.Size() == h.loaded.Size() && h.loadErr == nil {
		return nil
	}
	data, err := os.ReadFile(h.file)
	if err != nil {
		h.loadErr = fmt.Errorf("htpasswd file: %w", err)
		return h.loadErr
	}
	users, err := parseHTPasswd(h.file, data)
	h.loaded = fi
	if err != nil {
		h.loadErr = err
		return err
	}
	h.users, h.loadErr = users, nil
	return nil
}

func (h *HTPasswd) reload() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reloadLocked()
}

// parseHTPasswd reads user:hash lines. Errors name the line and the user, never the hash.
func parseHTPasswd(file string, data []byte) (map[string]htpasswd.EncodedPasswd, error) {
	users := map[string]htpasswd.EncodedPasswd{}
	lineOf := map[string]int{}
	var problems []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || user == "":
			problems = append(problems, fmt.Sprintf("line %d is not user:hash", n))
			continue
		case lineOf[user] != 0:
			problems = append(problems, fmt.Sprintf("line %d: user %q is already on line %d", n, user, lineOf[user]))
			continue
		}
		lineOf[user] = n
		matcher, malformed := matchHash(hash)
		switch {
		case malformed:
			problems = append(problems, fmt.Sprintf("line %d (user %q): the password hash is malformed; set it again with `htpasswd -B %s %s`", n, user, file, user))
			continue
		case matcher == nil:
			problems = append(problems, fmt.Sprintf("line %d (user %q): the password is plain text or uses an unsupported scheme; hash it with `htpasswd -B %s %s` (bcrypt)", n, user, file, user))
			continue
		}
		users[user] = matcher
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read htpasswd file %s: %w", file, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("htpasswd file %s: %s", file, strings.Join(problems, "; "))
	}
	return users, nil
}

// matchHash finds the scheme of hash: malformed when a scheme recognizes it but cannot read it,
// nil when no scheme does.
func matchHash(hash string) (m htpasswd.EncodedPasswd, malformed bool) {
	for _, parse := range htpasswdParsers {
		m, err := parse(hash)
		if err != nil {
			return nil, true
		}
		if m != nil {
			return m, false
		}
	}
	return nil, false
}

// bcryptCost is the bcrypt cost of hashes WriteHTPasswd writes; tests lower it.
var bcryptCost = bcrypt.DefaultCost

// dummyHash is compared against for unknown users, so that answering takes as long whether the
// user exists or not.
var dummyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte(GeneratePassword()), bcryptCost)
	if err != nil {
		panic(err) // only for a cost out of range
	}
	return h
})

// AuthenticatePassword checks username and password against the file.
func (h *HTPasswd) AuthenticatePassword(_ context.Context, username, password string) (*Identity, bool, error) {
	h.mu.Lock()
	err := h.reloadLocked()
	users := h.users
	h.mu.Unlock()
	if err != nil {
		return nil, false, fmt.Errorf("identity provider %q: %w", h.providerName, err)
	}
	m, ok := users[username]
	if !ok || username == "" || password == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return nil, false, nil
	}
	if !m.MatchesPassword(password) {
		return nil, false, nil
	}
	return &Identity{ProviderName: h.providerName, ProviderUserName: username, PreferredUserName: username}, true, nil
}

// WriteHTPasswd sets user's password in the htpasswd file at path (bcrypt), creating the file
// (mode 0600) and its directory if needed and keeping the other users' lines. The file is replaced
// atomically, so a running HTPasswd never reads half of it.
func WriteHTPasswd(path, user, password string) error {
	if user == "" || strings.ContainsAny(user, ":\r\n") || strings.TrimSpace(user) != user {
		return fmt.Errorf("htpasswd user name %q: must be non-empty, without ':', line breaks or surrounding spaces", user)
	}
	if password == "" {
		return fmt.Errorf("htpasswd user %q: the password may not be empty", user)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return fmt.Errorf("hash the password of %q: %w", user, err)
	}
	var out bytes.Buffer
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read htpasswd file: %w", err)
	}
	replaced := false
	for _, line := range strings.Split(string(old), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if name, _, _ := strings.Cut(strings.TrimSpace(line), ":"); name == user {
			if replaced {
				continue
			}
			line, replaced = user+":"+string(hash), true
		}
		out.WriteString(line + "\n")
	}
	if !replaced {
		out.WriteString(user + ":" + string(hash) + "\n")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create htpasswd directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write htpasswd file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write htpasswd file: %w", err)
	}
	if _, err := tmp.Write(out.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write htpasswd file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write htpasswd file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write htpasswd file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write htpasswd file: %w", err)
	}
	return nil
}

// passwordAlphabet has no characters that are easily confused (0/O/o, 1/l/I).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratePassword returns a random 20-character password (about 115 bits) from crypto/rand,
// without easily confused characters.
func GeneratePassword() string {
	const n = 20
	b := make([]byte, n)
	max := big.NewInt(int64(len(passwordAlphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err)) // crypto/rand never fails on Linux
		}
		b[i] = passwordAlphabet[v.Int64()]
	}
	return string(b)
}
