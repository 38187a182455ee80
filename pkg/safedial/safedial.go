// Package safedial keeps Hookline from being used to reach internal addresses (SSRF). A Policy
// decides which IP addresses a callback may reach; the dispatcher's dialer applies it to the
// resolved address at connect time (so DNS rebinding cannot slip past a check made earlier), and
// the ingress applies it at intake to fail early with a 400.
//
// Refused unless allowed: unspecified (0.0.0.0/8, ::), loopback, RFC 1918 private, carrier-grade
// NAT (100.64.0.0/10), link-local (169.254.0.0/16, fe80::/10), IPv6 unique-local (fc00::/7),
// multicast, broadcast and reserved IPv4 (240.0.0.0/4), and the cloud metadata addresses.
// IPv4 addresses embedded in IPv6 (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged as
// the IPv4 address they carry.
//
// AllowPrivate lifts every rule except the metadata one: a metadata address is only reachable
// when an AllowCIDRs prefix names it. Any address inside an AllowCIDRs prefix is allowed.
package safedial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Errors. Both are reasons to refuse a callback URL for good.
var (
	// ErrForbidden means the destination address is not allowed by the policy.
	ErrForbidden = errors.New("destination address not allowed")
	// ErrInvalidURL means the URL is not an absolute http or https URL with a host.
	ErrInvalidURL = errors.New("invalid callback URL")
)

// Category names why an address is refused.
type Category string

// Categories of refused addresses; "" means public.
const (
	Public      Category = ""
	Unspecified Category = "unspecified"
	Loopback    Category = "loopback"
	Private     Category = "private"
	LinkLocal   Category = "link-local"
	UniqueLocal Category = "unique-local"
	Metadata    Category = "metadata"
	Multicast   Category = "multicast"
	Reserved    Category = "reserved"
)

var (
	metadataAddrs = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack, DigitalOcean, ...
		netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
		netip.MustParseAddr("192.0.0.192"),     // Oracle Cloud
		netip.MustParseAddr("168.63.129.16"),   // Azure wire server
		netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
	}
	ranges = []struct {
		p   netip.Prefix
		cat Category
	}{
		{netip.MustParsePrefix("0.0.0.0/8"), Unspecified},
		{netip.MustParsePrefix("127.0.0.0/8"), Loopback},
		{netip.MustParsePrefix("10.0.0.0/8"), Private},
		{netip.MustParsePrefix("172.16.0.0/12"), Private},
		{netip.MustParsePrefix("192.168.0.0/16"), Private},
		{netip.MustParsePrefix("100.64.0.0/10"), Private}, // carrier-grade NAT, shared address space
		{netip.MustParsePrefix("192.0.0.0/24"), Reserved}, // IETF protocol assignments
		{netip.MustParsePrefix("169.254.0.0/16"), LinkLocal},
		{netip.MustParsePrefix("224.0.0.0/4"), Multicast},
		{netip.MustParsePrefix("240.0.0.0/4"), Reserved}, // includes 255.255.255.255
		{netip.MustParsePrefix("::/128"), Unspecified},
		{netip.MustParsePrefix("::1/128"), Loopback},
		{netip.MustParsePrefix("fe80::/10"), LinkLocal},
		{netip.MustParsePrefix("fc00::/7"), UniqueLocal},
		{netip.MustParsePrefix("ff00::/8"), Multicast},
	}
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// Classify returns why addr would be refused, or Public.
func Classify(addr netip.Addr) Category {
	addr = embeddedIPv4(addr.WithZone(""))
	for _, m := range metadataAddrs {
		if addr == m {
			return Metadata
		}
	}
	if !addr.IsValid() {
		return Reserved
	}
	for _, r := range ranges {
		if r.p.Contains(addr) {
			return r.cat
		}
	}
	return Public
}

// embeddedIPv4 returns the IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), else addr.
func embeddedIPv4(addr netip.Addr) netip.Addr {
	addr = addr.Unmap()
	if !addr.Is6() {
		return addr
	}
	b := addr.As16()
	switch {
	case nat64.Contains(addr):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	case sixTo4.Contains(addr):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	}
	return addr
}

// Policy decides which addresses are reachable.
type Policy struct {
	// AllowPrivate (HOOKLINE_CALLBACK_ALLOW_PRIVATE) allows every address but the metadata ones.
	AllowPrivate bool
	// AllowCIDRs (HOOKLINE_CALLBACK_ALLOW_CIDRS) are always reachable, metadata included.
	AllowCIDRs []netip.Prefix
}

// Check returns nil if addr may be reached, else an error wrapping ErrForbidden that names the
// address and why.
func (p Policy) Check(addr netip.Addr) error {
	addr = addr.WithZone("")
	plain := embeddedIPv4(addr)
	for _, c := range p.AllowCIDRs {
		if c.Contains(addr) || c.Contains(plain) {
			return nil
		}
	}
	cat := Classify(addr)
	if cat == Public || (p.AllowPrivate && cat != Metadata) {
		return nil
	}
	return fmt.Errorf("%w: %s is %s", ErrForbidden, addr, cat)
}

// Control is a net.Dialer Control function: it runs after name resolution, on the exact address
// about to be connected, and refuses it unless the policy allows it.
func (p Policy) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable dial address %q", ErrForbidden, address)
	}
	return p.Check(ap.Addr())
}

// Dialer returns a net.Dialer that refuses forbidden addresses at connect time.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.Control}
}

// Resolver resolves host names; *net.Resolver fits.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// Guard checks callback URLs at intake.
type Guard struct {
	Policy   Policy
	Resolver Resolver      // nil: net.DefaultResolver
	Timeout  time.Duration // bound on the lookup; 0: 2s
}

// ParseURL accepts an absolute http or https URL with a host and no user info. The error wraps
// ErrInvalidURL.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: not a URL", ErrInvalidURL)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return nil, fmt.Errorf("%w: want an http or https URL", ErrInvalidURL)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: want an absolute URL with a host", ErrInvalidURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: user info is not allowed", ErrInvalidURL)
	}
	if port := u.Port(); port != "" {
		if n, perr := netip.ParseAddrPort("0.0.0.0:" + port); perr != nil || n.Port() == 0 {
			return nil, fmt.Errorf("%w: bad port", ErrInvalidURL)
		}
	}
	return u, nil
}

// CheckURL parses raw (ParseURL) and refuses it (ErrForbidden) when its host is, or resolves to,
// any address the policy forbids. A host that does not resolve now is accepted: intake is an early
// answer, and the dialer checks the address again when it connects. Errors wrap ErrInvalidURL or
// ErrForbidden.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := ParseURL(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if addr, perr := netip.ParseAddr(host); perr == nil {
		return g.Policy.Check(addr)
	}
	res := g.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addrs, err := res.LookupNetIP(lctx, "ip", host)
	if err != nil {
		return nil // unresolvable now: the dial-time check decides
	}
	for _, a := range addrs {
		if err := g.Policy.Check(a); err != nil {
			return fmt.Errorf("%s resolves to a refused address: %w", host, err)
		}
	}
	return nil
}
