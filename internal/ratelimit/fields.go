package ratelimit

import (
	"math"
	"strconv"
	"time"
)

// The RateLimit-Policy and RateLimit response fields, as
// draft-ietf-httpapi-ratelimit-headers-11 (May 2026) defines them: Lists
// of Structured Field Items whose value is the policy's name, a String.
//
//	RateLimit-Policy: "user";q=100;w=2
//	RateLimit: "user";r=97;t=1
//
// The draft's policy is a quota q per window w (whole seconds, at least
// 1). A token bucket maps onto it as q = Burst and w = Burst/Rate rounded
// up: a client that sends at most q requests in any w seconds is never
// refused (TestPolicyGuarantee checks this), and the long-run rate q/w is
// at most Rate. In RateLimit, r is the whole tokens left and t the seconds
// until the bucket is full again; on a refusal, r is 0 and t the seconds
// until a token is back, equal to Retry-After (the draft: Retry-After must
// not point earlier than the end of the effective window).

// PolicyField returns the RateLimit-Policy field value of c under name, a
// policy name of letters, digits and '-' (it is written as an sf-string
// without escaping).
func (c Config) PolicyField(name string) string {
	b := make([]byte, 0, len(name)+24)
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `";q=`...)
	b = strconv.AppendInt(b, int64(c.Burst), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, int64(c.Window()/time.Second), 10)
	return string(b)
}

// Window returns the draft's w for c: Burst/Rate rounded up to whole
// seconds, at least one second.
func (c Config) Window() time.Duration {
	w := math.Ceil(float64(c.Burst) / c.Rate)
	if !(w >= 1) {
		w = 1
	}
	return time.Duration(min(w, math.MaxInt32)) * time.Second
}

// AppendField appends d's RateLimit field value for the policy name.
func (d Decision) AppendField(b []byte, name string) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `";r=`...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, d.ResetSeconds(), 10)
}

// ResetSeconds is the field's t: on a refusal RetryAfterSeconds, otherwise
// Reset in whole seconds rounded up.
func (d Decision) ResetSeconds() int64 {
	if !d.Allowed {
		return d.RetryAfterSeconds()
	}
	return ceilSeconds(d.Reset)
}

// RetryAfterSeconds is the Retry-After value for a refusal: RetryAfter in
// whole seconds, rounded up, at least 1.
func (d Decision) RetryAfterSeconds() int64 {
	return max(1, ceilSeconds(d.RetryAfter))
}

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
