package idp

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestHTPasswdPasswordSuite(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "users.htpasswd")
	if err := WriteHTPasswd(file, "alice", "alice-password"); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTPasswd(file, "bob", "bob-password"); err != nil {
		t.Fatal(err)
	}
	h, err := NewHTPasswd("local", file)
	if err != nil {
		t.Fatal(err)
	}
	testPasswordAuthenticator(t, h, passwordCase{
		user: "alice", password: "alice-password", unknownUser: "carol",
		want: Identity{ProviderName: "local", ProviderUserName: "alice", PreferredUserName: "alice"},
	})
}

// shaSecret is `htpasswd -s` of "secret": {SHA} and base64 of its SHA-1.
const shaSecret = "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="

func TestHTPasswdAcceptsOtherApacheHashes(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "htpasswd")
	writeFile(t, file, "sha:"+shaSecret+"\n\n")
	h, err := NewHTPasswd("local", file)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := h.AuthenticatePassword(context.Background(), "sha", "secret"); !ok || err != nil {
		t.Errorf("{SHA} entry: ok=%v err=%v", ok, err)
	}
}

func TestHTPasswdRefusesPlainTextNamingTheUser(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := WriteHTPasswd(file, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	writeFile(t, file, string(data)+"mallory:plain-secret\nnocolon\nalice:{SHA}x\n")
	_, err := NewHTPasswd("local", file)
	if err == nil {
		t.Fatal("a file with a plain-text password was accepted")
	}
	for _, want := range []string{`line 2 (user "mallory"): the password is plain text`, "htpasswd -B", "line 3 is not user:hash", `line 4: user "alice" is already on line 1`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "plain-secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestHTPasswdReloadsChangedFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := WriteHTPasswd(file, "alice", "old-password"); err != nil {
		t.Fatal(err)
	}
	h, err := NewHTPasswd("local", file)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := h.AuthenticatePassword(ctx, "alice", "old-password"); !ok {
		t.Fatal("first login refused")
	}

	if err := WriteHTPasswd(file, "alice", "new-password"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := h.AuthenticatePassword(ctx, "alice", "old-password"); ok || err != nil {
		t.Errorf("old password after the change: ok=%v err=%v", ok, err)
	}
	if _, ok, err := h.AuthenticatePassword(ctx, "alice", "new-password"); !ok || err != nil {
		t.Errorf("new password after the change: ok=%v err=%v", ok, err)
	}

	// A broken file fails every login loudly instead of keeping the replaced passwords.
	writeFile(t, file, "alice:plain\n")
	if _, ok, err := h.AuthenticatePassword(ctx, "alice", "new-password"); ok || err == nil || !strings.Contains(err.Error(), `user "alice"`) {
		t.Errorf("login with a broken file: ok=%v err=%v; want an error naming the line's user", ok, err)
	}
	if err := WriteHTPasswd(file, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := h.AuthenticatePassword(ctx, "alice", "fixed"); !ok || err != nil {
		t.Errorf("login after the fix: ok=%v err=%v", ok, err)
	}

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.AuthenticatePassword(ctx, "alice", "fixed"); err == nil {
		t.Error("login with the file gone: no error")
	}
}

func TestWriteHTPasswd(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "auth")
	file := filepath.Join(dir, "htpasswd")
	for _, u := range []struct{ user, pw string }{{"alice", "a1"}, {"bob", "b1"}, {"alice", "a2"}} {
		if err := WriteHTPasswd(file, u.user, u.pw); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "alice:$2") || !strings.HasPrefix(lines[1], "bob:$2") {
		t.Errorf("file holds %q; want alice's and bob's bcrypt lines, alice first", lines)
	}
	h, err := NewHTPasswd("p", file)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{{"alice", "a2", true}, {"alice", "a1", false}, {"bob", "b1", true}} {
		if _, ok, _ := h.AuthenticatePassword(context.Background(), c.user, c.pw); ok != c.ok {
			t.Errorf("%s/%s: ok=%v, want %v", c.user, c.pw, ok, c.ok)
		}
	}
	for _, bad := range []string{"", "a:b", "a\nb", " a"} {
		if err := WriteHTPasswd(file, bad, "pw"); err == nil {
			t.Errorf("user %q accepted", bad)
		}
	}
	if err := WriteHTPasswd(file, "carol", ""); err == nil {
		t.Error("empty password accepted")
	}
}

func TestGeneratePassword(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		p := GeneratePassword()
		if len(p) != 20 {
			t.Fatalf("%q has %d characters, want 20", p, len(p))
		}
		if strings.ContainsAny(p, "0O1lIo") {
			t.Errorf("%q holds an ambiguous character", p)
		}
		for _, c := range p {
			if !strings.ContainsRune(passwordAlphabet, c) {
				t.Errorf("%q holds %q, outside the alphabet", p, c)
			}
		}
		if seen[p] {
			t.Errorf("%q generated twice", p)
		}
		seen[p] = true
	}
}
