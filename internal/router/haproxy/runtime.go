package haproxy

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// runtimeAPI talks to haproxy's stats socket (the runtime API). Each call
// opens a connection, sends one line of commands separated by ";" and
// reads the answers until haproxy closes it.
type runtimeAPI struct {
	sock    string
	timeout time.Duration
}

// maxLine keeps a line of commands well inside haproxy's 16 KiB buffer.
const maxLine = 8 << 10

// exec sends one line and returns haproxy's answer.
func (r runtimeAPI) exec(line string) (string, error) {
	c, err := net.DialTimeout("unix", r.sock, r.timeout)
	if err != nil {
		return "", fmt.Errorf("haproxy runtime API: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(r.timeout))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", fmt.Errorf("haproxy runtime API: %w", err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return string(b), fmt.Errorf("haproxy runtime API: %w", err)
	}
	return string(b), nil
}

// run sends commands in as few lines as fit and fails on the first answer
// that is an error.
func (r runtimeAPI) run(cmds []string) error {
	var line strings.Builder
	flush := func() error {
		if line.Len() == 0 {
			return nil
		}
		out, err := r.exec(line.String())
		line.Reset()
		if err != nil {
			return err
		}
		return answerError(out)
	}
	for _, c := range cmds {
		if line.Len() > 0 && line.Len()+len(c)+1 > maxLine {
			if err := flush(); err != nil {
				return err
			}
		}
		if line.Len() > 0 {
			line.WriteByte(';')
		}
		line.WriteString(c)
	}
	return flush()
}

// answerError finds an error among the answers of a line of commands:
// successful set server, add map and commit map commands answer nothing
// or a note of what changed.
func answerError(out string) error {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "", strings.HasPrefix(l, "IP changed from"), strings.HasPrefix(l, "no need to change"),
			strings.HasPrefix(l, "port changed from"), strings.HasPrefix(l, "New version created"):
			continue
		}
		return fmt.Errorf("haproxy runtime API: %s", l)
	}
	return nil
}

// pid asks the worker serving the socket for its process ID.
func (r runtimeAPI) pid() (int, error) {
	out, err := r.exec("show info")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "Pid: "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("haproxy runtime API: no Pid in show info: %q", out)
}

// prepareMap starts a new version of a map (filled by add map @version,
// made live at once by commit map) and returns its number.
func (r runtimeAPI) prepareMap(file string) (string, error) {
	out, err := r.exec("prepare map " + cliQuote(file))
	if err != nil {
		return "", err
	}
	_, v, ok := strings.Cut(strings.TrimSpace(out), "New version created: ")
	if !ok {
		return "", fmt.Errorf("haproxy runtime API: prepare map %s: %s", file, strings.TrimSpace(out))
	}
	return strings.TrimSpace(v), nil
}

// replaceMap replaces the whole content of a map atomically.
func (r runtimeAPI) replaceMap(file string, entries []mapEntry) error {
	v, err := r.prepareMap(file)
	if err != nil {
		return err
	}
	cmds := make([]string, 0, len(entries)+1)
	for _, e := range entries {
		cmds = append(cmds, "add map @"+v+" "+cliQuote(file)+" "+cliQuote(e.Key)+" "+cliQuote(e.Value))
	}
	if err := r.run(cmds); err != nil {
		return err
	}
	return r.run([]string{"commit map @" + v + " " + cliQuote(file)})
}

// cliQuote escapes a word for the runtime API's parser, which takes a
// backslash to escape the next character and splits on spaces and ";".
func cliQuote(s string) string {
	if !strings.ContainsAny(s, `\; `) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if c == '\\' || c == ';' || c == ' ' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
