package proxy

import (
	"errors"
	"net"
	"os"
	"time"
)

// exchange sends a request to an endpoint and reads the response head. A
// reused connection that fails before the first byte of the response, when
// no byte of the client's body was consumed, was most likely closed by the
// backend while idle: the request is sent once more on a new connection.
// On success the caller owns the connection (done, close).
func (e *endpoint) exchange(o *outRequest) (*backendConn, error) {
	for try := 0; ; try++ {
		c, err := e.pool.get(o.body != nil)
		if err != nil {
			return nil, err
		}
		err = c.send(o, e.hostport)
		if err == nil {
			return c, nil
		}
		stale := c.reused && !c.resp.got && !isTimeout(err) && (o.body == nil || o.body.n == 0)
		c.close()
		if !stale || try > 0 {
			return nil, err
		}
	}
}

// send writes the request and reads the response head. A request without
// a body is written and flushed in this goroutine; a body is copied by a
// second one, so that a backend answering (or streaming) before it has
// read the whole body is not deadlocked against the router, and send
// reads the response meanwhile. send returns only once that copy has
// stopped using the client's body, except on success, where finish
// waits for it.
func (c *backendConn) send(o *outRequest, hostport string) error {
	c.body.timeout = o.timeout
	c.resp.got = false
	c.writer = nil
	c.nc.SetDeadline(time.Now().Add(o.timeout))
	o.writeHead(c.bw, hostport)
	if o.body == nil {
		if err := c.bw.Flush(); err != nil {
			return err
		}
	} else {
		c.writer = make(chan error, 1)
		go c.copyBody(*o) // a copy: o itself stays on the caller's stack
	}
	err := c.readHead(o.r.Method)
	if err != nil && c.writer != nil {
		c.nc.Close()
		if werr := <-c.writer; werr != nil && !c.resp.got {
			err = werr
		}
		c.writer = nil
	}
	return err
}

// copyBody is the goroutine that sends a request body.
func (c *backendConn) copyBody(o outRequest) {
	err := c.writeBody(&o)
	if err != nil {
		// The backend cannot get a complete request: stop waiting for
		// its answer.
		c.nc.Close()
	}
	c.writer <- err
}

// finish ends an exchange after the response was copied: the connection
// is reused when the response was read to its end and the request body
// was written whole, else closed. It waits for the body copy to stop.
func (c *backendConn) finish() {
	if c.writer != nil {
		select {
		case err := <-c.writer:
			if err != nil {
				c.broken = true
			}
		default:
			// The backend answered without reading the whole body.
			c.nc.Close()
			<-c.writer
			c.broken = true
		}
		c.writer = nil
	}
	if c.broken {
		c.nc.Close()
		return
	}
	c.done()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
