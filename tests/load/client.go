package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// conn is a minimal HTTP/1.1 keep-alive client over one TCP connection,
// used by one worker at a time. net/http's client spends two goroutines
// and their hand-offs on every request; on a 2-core machine that shares its
// CPU with the server and PostgreSQL, the instrument would otherwise eat
// the throughput it measures. It speaks only what rowgate answers with:
// Content-Length or chunked bodies.
type conn struct {
	network string
	addr    string
	host    string
	c       net.Conn
	r       *bufio.Reader
	w       *bufio.Writer

	// wantToken makes readResponse keep each response's Consistency-Token
	// in token (empty when it has none); off, headers are not compared
	// with its name.
	wantToken bool
	token     []byte
}

// headerToken is the header that carries read-your-writes: every
// successful write answers one, and a read may send it back.
var headerToken = []byte("Consistency-Token")

// newConn targets base, http://host:port or unix:/path/to.sock.
func newConn(base string) *conn {
	if path, ok := strings.CutPrefix(base, "unix:"); ok {
		return &conn{network: "unix", addr: path, host: "localhost"}
	}
	addr := strings.TrimPrefix(base, "http://")
	return &conn{network: "tcp", addr: addr, host: addr}
}

func (cn *conn) dial(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, cn.network, cn.addr)
	if err != nil {
		return err
	}
	cn.c, cn.r, cn.w = c, bufio.NewReaderSize(c, 16<<10), bufio.NewWriterSize(c, 4<<10)
	return nil
}

func (cn *conn) close() {
	if cn.c != nil {
		cn.c.Close()
		cn.c = nil
	}
}

// do sends one request and reads the response body into body. It redials
// once if the kept-alive connection was closed by the server.
func (cn *conn) do(ctx context.Context, method, path, bearer, payload string, body *bytes.Buffer) (int, error) {
	return cn.doWithToken(ctx, method, path, bearer, "", payload, body)
}

// doWithToken is do with a Consistency-Token header, unless token is empty.
func (cn *conn) doWithToken(ctx context.Context, method, path, bearer, token, payload string, body *bytes.Buffer) (int, error) {
	for attempt := 0; ; attempt++ {
		status, err := cn.try(ctx, method, path, bearer, token, payload, body)
		if err == nil || attempt > 0 || !retryable(err) {
			return status, err
		}
		cn.close()
	}
}

func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

func (cn *conn) try(ctx context.Context, method, path, bearer, token, payload string, body *bytes.Buffer) (int, error) {
	if cn.c == nil {
		if err := cn.dial(ctx); err != nil {
			return 0, err
		}
	}
	cn.c.SetDeadline(time.Now().Add(30 * time.Second))
	w := cn.w
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(path)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(cn.host)
	w.WriteString("\r\nAuthorization: ")
	w.WriteString(bearer)
	if token != "" {
		w.WriteString("\r\nConsistency-Token: ")
		w.WriteString(token)
	}
	if payload != "" {
		w.WriteString("\r\nContent-Type: application/json\r\nContent-Length: ")
		w.WriteString(strconv.Itoa(len(payload)))
	}
	w.WriteString("\r\n\r\n")
	w.WriteString(payload)
	if err := w.Flush(); err != nil {
		cn.close()
		return 0, err
	}
	status, err := cn.readResponse(body)
	if err != nil {
		cn.close()
	}
	return status, err
}

func (cn *conn) readResponse(body *bytes.Buffer) (int, error) {
	line, err := cn.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closing := -1, false, false
	cn.token = cn.token[:0]
	for {
		h, err := cn.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(value))
			if err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		case cn.wantToken && bytes.EqualFold(name, headerToken):
			cn.token = append(cn.token, value...)
		}
	}
	body.Reset()
	switch {
	case chunked:
		err = cn.readChunked(body)
	case length >= 0:
		_, err = io.CopyN(body, cn.r, int64(length))
	case status == 204 || status == 304:
	default:
		return 0, errors.New("response without a length")
	}
	if closing {
		cn.close()
	}
	return status, err
}

func (cn *conn) readChunked(body *bytes.Buffer) error {
	for {
		line, err := cn.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			_, err = cn.r.ReadSlice('\n') // the blank line after the last chunk
			return err
		}
		if _, err := io.CopyN(body, cn.r, size); err != nil {
			return err
		}
		if _, err := cn.r.ReadSlice('\n'); err != nil {
			return err
		}
	}
}
