package httpapi

import (
	"testing"
	"time"
)

func TestNewHTTPServerDefaults(t *testing.T) {
	t.Parallel()
	for _, o := range []HTTPServerOptions{{}, {ReadHeaderTimeout: -1, ReadTimeout: -1, WriteTimeout: -1, IdleTimeout: -1, MaxHeaderBytes: -1}} {
		s := NewHTTPServer(nil, o)
		if s.ReadHeaderTimeout != 5*time.Second || s.ReadTimeout != 15*time.Second || s.WriteTimeout != 15*time.Second ||
			s.IdleTimeout != 2*time.Minute || s.MaxHeaderBytes != 16<<10 || s.ErrorLog == nil {
			t.Errorf("%+v: %+v", o, s)
		}
	}
	s := NewHTTPServer(nil, HTTPServerOptions{RequestTimeout: time.Minute})
	if s.WriteTimeout != time.Minute+5*time.Second {
		t.Errorf("WriteTimeout %v, want the request timeout + 5s", s.WriteTimeout)
	}
	s = NewHTTPServer(nil, HTTPServerOptions{RequestTimeout: time.Minute, WriteTimeout: time.Second, MaxHeaderBytes: 1000})
	if s.WriteTimeout != time.Second || s.MaxHeaderBytes != 1000 {
		t.Errorf("explicit values not kept: %v %d", s.WriteTimeout, s.MaxHeaderBytes)
	}
}
