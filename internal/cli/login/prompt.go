package login

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// prompter asks a person for input. On a terminal it prints prompts and reads passwords without
// echo; otherwise it reads lines from the input without prompting, so that a script can pipe the
// answers (a password, for example) into gantry login.
type prompter struct {
	in  io.Reader
	out io.Writer
	// lines reads in when it is not a terminal (and the answers to questions on a terminal); one
	// reader for the whole command, so that nothing it buffered is lost between two answers.
	lines *bufio.Reader
	// err is the last error of a prompt that could not return one (PromptForPassword).
	err error
}

func newPrompter(in io.Reader, out io.Writer) *prompter {
	return &prompter{in: in, out: out}
}

// terminalFd is the file descriptor of r when r is a terminal.
func terminalFd(r io.Reader) (int, bool) {
	f, ok := r.(*os.File)
	if !ok || f == nil {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// interactive tells whether a person can be asked: the input is a terminal.
func (p *prompter) interactive() bool {
	_, ok := terminalFd(p.in)
	return ok
}

// readLine returns the next line of the input without its line ending; io.EOF when the input is
// exhausted before any character.
func (p *prompter) readLine() (string, error) {
	if p.lines == nil {
		p.lines = bufio.NewReader(p.in)
	}
	line, err := p.lines.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// errNoPassword is why a login without -p fails when nothing could be asked.
var errNoPassword = errors.New("no password: -p was not given and the input held no line to read it from\n" +
	"Try: gantry login -u USER and type the password when asked, or give it with -p or on the input (echo \"$PASSWORD\" | gantry login -u USER)")

// PromptForPassword implements library-go's challengehandlers.PasswordPrompter. On a terminal it
// prints the prompt and reads without echo; otherwise it reads one line. It cannot return an error:
// one is kept in p.err and the empty password is returned (the server then refuses the login).
func (p *prompter) PromptForPassword(_ io.Reader, w io.Writer, format string, a ...interface{}) string {
	if fd, ok := terminalFd(p.in); ok {
		fmt.Fprintf(w, format, a...)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(w)
		if err != nil {
			p.err = fmt.Errorf("read the password from the terminal: %w", err)
			return ""
		}
		return string(b)
	}
	line, err := p.readLine()
	if err != nil || line == "" {
		p.err = errNoPassword
		return ""
	}
	return line
}

// askString prints a prompt on a terminal and reads one line (echoed).
func (p *prompter) askString(prompt string) (string, error) {
	if p.interactive() {
		fmt.Fprint(p.out, prompt)
	}
	return p.readLine()
}

// askYesNo asks until the answer is yes or no; no when the input ends.
func (p *prompter) askYesNo(prompt string) bool {
	for {
		answer, err := p.askString(prompt)
		if err != nil {
			fmt.Fprintln(p.out)
			return false
		}
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "y", "yes":
			return true
		case "n", "no":
			return false
		}
	}
}
