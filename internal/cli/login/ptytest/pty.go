// Package ptytest gives tests a real pseudo-terminal, to drive prompts as a person at a terminal
// would: the program reads from Slave, the test types on Master and sees there what the terminal
// shows (its echo).
package ptytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Terminal is a pseudo-terminal pair.
type Terminal struct {
	Master, Slave *os.File
	mu            sync.Mutex
	shown         bytes.Buffer
	done          chan struct{}
}

// Open opens a pseudo-terminal, closed when the test ends.
func Open(t testing.TB) *Terminal {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	term := &Terminal{Master: m, Slave: s, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 1024)
		for {
			n, err := m.Read(buf)
			term.mu.Lock()
			term.shown.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		s.Close()
		m.Close()
		<-term.done
	})
	return term
}

// Shown is everything the terminal displayed so far.
func (term *Terminal) Shown() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.shown.String()
}

// Type types text on the keyboard.
func (term *Terminal) Type(t *testing.T, text string) {
	t.Helper()
	if _, err := io.WriteString(term.Master, text); err != nil {
		t.Fatal(err)
	}
}

// WaitEcho waits until the terminal's echo is on (true) or off (false), so that what is typed next
// is read in that mode.
func (term *Terminal) WaitEcho(t *testing.T, on bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(term.Slave.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if (tio.Lflag&unix.ECHO != 0) == on {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(errors.New("the terminal's echo did not change within 30s"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
