package httpapi

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// ipExtractor is how Echo's RealIP finds the client. Echo's default reads
// X-Forwarded-For from anyone, which would let a client choose its own
// rate-limit bucket; here the client is the connection's peer, unless
// trusted proxies are configured: then X-Forwarded-For is read from the
// right, skipping only those proxies (not Echo's default trust of
// loopback, link-local and private ranges), and the first address that is
// not one of them is the client.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{
			IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// clientAddr is the rate-limit key of a client IP: the address itself for
// IPv4, its /64 for IPv6 (what one host is usually given). Anything that
// does not parse (a unix socket's peer) is the zero Addr: one shared key.
func clientAddr(ip string) netip.Addr {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes or
// single addresses (TRUSTED_PROXIES) for Options.TrustedProxies. An empty
// list is valid and trusts no proxy.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("trusted proxy %q is neither a CIDR prefix nor an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
