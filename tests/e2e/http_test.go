//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// httpClient has no cookie jar: a test sends cookies and tokens explicitly.
var httpClient = &http.Client{Timeout: 15 * time.Second}

// reply is a response, read in full.
type reply struct {
	status  int
	header  http.Header
	cookies []*http.Cookie
	body    []byte
}

// decode unmarshals the body into v, failing the test if it cannot.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %d response: %v: %s", r.status, err, r.body)
	}
}

// problemCode returns the "code" member of a problem+json body, or "".
func (r reply) problemCode() string {
	var p struct{ Code string }
	json.Unmarshal(r.body, &p)
	return p.Code
}

// send makes one request; body, when not nil, is sent as JSON.
func send(t *testing.T, method, url string, body any, header http.Header) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return reply{status: res.StatusCode, header: res.Header, cookies: res.Cookies(), body: b}
}
