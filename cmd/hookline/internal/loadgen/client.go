package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// ErrBadResponse is a response the client cannot parse.
var ErrBadResponse = errors.New("bad http response")

// conn is a minimal HTTP/1.1 keep-alive client over one TCP connection. It costs the load
// generator a few microseconds a request, so on a small machine most of the CPU stays with the
// server being measured.
type conn struct {
	addr string
	host string
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	buf  bytes.Buffer
}

func newConn(addr string) *conn { return &conn{addr: addr, host: addr} }

func (c *conn) dial() error {
	nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial %s: %w", c.addr, err)
	}
	c.c = nc
	c.r = bufio.NewReaderSize(nc, 16<<10)
	c.w = bufio.NewWriterSize(nc, 16<<10)
	return nil
}

func (c *conn) close() {
	if c.c != nil {
		_ = c.c.Close() // a load connection; nothing to report
		c.c = nil
	}
}

// do sends one POST and returns the status code. On any error the connection is closed and the
// next call redials.
func (c *conn) do(req *Request, timeout time.Duration) (int, error) {
	if c.c == nil {
		if err := c.dial(); err != nil {
			return 0, err
		}
	}
	_ = c.c.SetDeadline(time.Now().Add(timeout)) // a failed deadline shows up as a failed request
	c.buf.Reset()
	c.buf.WriteString("POST ")
	c.buf.WriteString(req.Path)
	c.buf.WriteString(" HTTP/1.1\r\nHost: ")
	c.buf.WriteString(c.host)
	c.buf.WriteString("\r\nContent-Type: application/json\r\nContent-Length: ")
	c.buf.WriteString(strconv.Itoa(len(req.Body)))
	c.buf.WriteString("\r\n")
	for _, h := range req.Headers {
		c.buf.WriteString(h[0])
		c.buf.WriteString(": ")
		c.buf.WriteString(h[1])
		c.buf.WriteString("\r\n")
	}
	c.buf.WriteString("\r\n")
	c.buf.Write(req.Body)
	if _, err := c.w.Write(c.buf.Bytes()); err != nil {
		c.close()
		return 0, fmt.Errorf("write: %w", err)
	}
	if err := c.w.Flush(); err != nil {
		c.close()
		return 0, fmt.Errorf("write: %w", err)
	}
	status, keep, err := c.readResponse()
	if err != nil {
		c.close()
		return 0, err
	}
	if !keep {
		c.close()
	}
	return status, nil
}

func (c *conn) readResponse() (status int, keepAlive bool, err error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, false, fmt.Errorf("read status: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("%w: status line %q", ErrBadResponse, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("%w: status line %q", ErrBadResponse, line)
	}
	length, chunked, keepAlive := -1, false, true
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("read header: %w", err)
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		i := bytes.IndexByte(h, ':')
		if i < 0 {
			continue
		}
		name, val := h[:i], bytes.TrimSpace(h[i+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(val))
			if err != nil {
				return 0, false, fmt.Errorf("%w: content-length %q", ErrBadResponse, val)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(val, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keepAlive = !bytes.EqualFold(val, []byte("close"))
		}
	}
	switch {
	case chunked:
		if err := c.skipChunked(); err != nil {
			return 0, false, err
		}
	case length > 0:
		if _, err := c.r.Discard(length); err != nil {
			return 0, false, fmt.Errorf("read body: %w", err)
		}
	case length < 0 && status != 204 && status != 304:
		// No length and not chunked: the body runs to the end of the connection.
		if _, err := io.Copy(io.Discard, c.r); err != nil {
			return 0, false, fmt.Errorf("read body: %w", err)
		}
		keepAlive = false
	}
	return status, keepAlive, nil
}

func (c *conn) skipChunked() error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read chunk: %w", err)
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
		if err != nil {
			return fmt.Errorf("%w: chunk size %q", ErrBadResponse, line)
		}
		if _, err := c.r.Discard(int(n) + 2); err != nil {
			return fmt.Errorf("read chunk: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
}
