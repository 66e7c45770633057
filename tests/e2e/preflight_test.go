//go:build e2e

package e2e

import (
	"slices"
	"strings"
)

// expectPreflights checks the CORS exchanges the page had with rowgate:
// every request it sent there carried a bearer token and was covered by a
// preflight the browser sent first (OPTIONS to the same URL asking for the
// headers it sent), which rowgate answered 204 or 200 allowing the
// page's origin, the method and every header asked for, before the request's
// own response; the response itself allows the page's origin. A preflight
// may serve several requests (the browser caches it, Access-Control-Max-Age),
// even of another method that its answer allowed too (a PATCH's preflight
// covers a later DELETE of the same todo), but each method in methods must
// have been sent at least once.
func (p *page) expectPreflights(methods ...string) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]int{}
	for _, r := range p.requests {
		if r.preflight || !strings.HasPrefix(r.url, p.rowgate+"/") {
			continue
		}
		seen[r.method]++
		where := p.name + ": " + r.method + " " + strings.TrimPrefix(r.url, p.rowgate)
		switch {
		case !strings.HasPrefix(r.header["authorization"], "Bearer "):
			p.t.Errorf("%s was sent without a bearer token", where)
		case r.status == 0:
			p.t.Errorf("%s got no response", where)
		case r.respHeader["access-control-allow-origin"] != p.origin:
			p.t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", where, r.respHeader["access-control-allow-origin"], p.origin)
		case p.preflightFor(r) == nil:
			p.t.Errorf("%s was not preceded by a successful CORS preflight; preflights to that URL: %v", where, p.preflightsTo(r.url))
		}
	}
	for _, m := range methods {
		if seen[m] == 0 {
			p.t.Errorf("%s sent no %s to rowgate (saw %v)", p.name, m, seen)
		}
	}
}

// preflightFor returns the preflight that allowed r, or nil.
func (p *page) preflightFor(r *netRequest) *netRequest {
	for _, q := range p.preflightsTo(r.url) {
		asked := headerList(q.header["access-control-request-headers"])
		switch {
		case q.respOrder >= r.respOrder:
		case q.status != 204 && q.status != 200:
		case q.header["origin"] != p.origin:
		case q.respHeader["access-control-allow-origin"] != p.origin:
		case !slices.Contains(headerList(q.respHeader["access-control-allow-methods"]), strings.ToLower(r.method)):
		case !slices.Contains(asked, "authorization"):
		case !subset(asked, headerList(q.respHeader["access-control-allow-headers"])):
		case !subset(sentNonSimple(r), asked):
		default:
			return q
		}
	}
	return nil
}

func (p *page) preflightsTo(url string) []*netRequest {
	var out []*netRequest
	for _, q := range p.requests {
		if q.preflight && q.method == "OPTIONS" && q.url == url && q.status != 0 {
			out = append(out, q)
		}
	}
	return out
}

// sentNonSimple lists the headers of r that need a preflight's approval:
// those the page set, less the CORS-safelisted and browser-set ones.
func sentNonSimple(r *netRequest) []string {
	var out []string
	for name := range r.header {
		switch {
		case name == "accept", name == "accept-language", name == "content-language", name == "referer", name == "user-agent":
		case strings.HasPrefix(name, "sec-"):
		default:
			out = append(out, name)
		}
	}
	return out
}

// headerList splits a comma-separated header value, lower-cased.
func headerList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.ToLower(strings.TrimSpace(f)); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
