// Package safedial keeps Hookline from being used to reach internal addresses (SSRF). A Policy
// decides which IP addresses (and ports) a callback may reach; the dispatcher's dialer applies it to
// the resolved address at connect time (so DNS rebinding cannot slip past a check made earlier),
// and the ingress applies it at intake to fail early with a 400.
//
// Refused unless allowed: every block of the IANA IPv4 and IPv6 special-purpose address
// registries that is not globally reachable (this network 0.0.0.0/8, loopback, RFC 1918 private,
// carrier-grade NAT 100.64.0.0/10, IETF protocol assignments 192.0.0.0/24 and 2001::/23,
// documentation, benchmarking, link-local, unique-local, the discard prefix 100::/64, SRv6 SIDs
// 5f00::/16, reserved 240.0.0.0/4 and the broadcast address), multicast, the deprecated 6to4 relay
// anycast 192.88.99.0/24 and IPv6 site-local fec0::/10, every IPv6 address outside global unicast
// 2000::/3, and the cloud metadata addresses.
//
// An IPv6 address that embeds an IPv4 address is judged by the IPv4 address it carries:
// IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d (SIIT),
// NAT64 64:ff9b::/96, 6to4 2002::/16 (bits 16-47), and Teredo 2001::/32 (the server in bits 32-63 and the client, the last 32 bits
// inverted: refused if either is). The local-use NAT64 prefix 64:ff9b:1::/48 is refused whole
// (see classifyLocalNAT64).
//
// AllowPrivate lifts every rule except the metadata one: a metadata address is only reachable
// when an AllowCIDRs entry names it. An address inside an AllowCIDRs entry is allowed on that
// entry's port, or on every port when the entry has none.
package safedial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
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
	Public        Category = ""
	Unspecified   Category = "unspecified"
	Loopback      Category = "loopback"
	Private       Category = "private"
	LinkLocal     Category = "link-local"
	UniqueLocal   Category = "unique-local"
	Metadata      Category = "metadata"
	Multicast     Category = "multicast"
	Reserved      Category = "reserved"
	Documentation Category = "documentation"
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
		{netip.MustParsePrefix("192.0.2.0/24"), Documentation},
		{netip.MustParsePrefix("198.51.100.0/24"), Documentation},
		{netip.MustParsePrefix("203.0.113.0/24"), Documentation},
		{netip.MustParsePrefix("198.18.0.0/15"), Reserved},  // benchmarking
		{netip.MustParsePrefix("192.88.99.0/24"), Reserved}, // deprecated 6to4 relay anycast
		{netip.MustParsePrefix("169.254.0.0/16"), LinkLocal},
		{netip.MustParsePrefix("224.0.0.0/4"), Multicast},
		{netip.MustParsePrefix("240.0.0.0/4"), Reserved}, // includes 255.255.255.255
		{netip.MustParsePrefix("::/128"), Unspecified},
		{netip.MustParsePrefix("::1/128"), Loopback},
		{netip.MustParsePrefix("fe80::/10"), LinkLocal},
		{netip.MustParsePrefix("fec0::/10"), LinkLocal}, // deprecated site-local
		{netip.MustParsePrefix("fc00::/7"), UniqueLocal},
		{netip.MustParsePrefix("ff00::/8"), Multicast},
		{netip.MustParsePrefix("2001:db8::/32"), Documentation},
		{netip.MustParsePrefix("3fff::/20"), Documentation},
		{netip.MustParsePrefix("2001::/23"), Reserved}, // IETF protocol assignments (Teredo is judged by what it embeds)
	}
	globalUnicast = netip.MustParsePrefix("2000::/3")
	nat64         = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local    = netip.MustParsePrefix("64:ff9b:1::/48")
	sixTo4        = netip.MustParsePrefix("2002::/16")
	teredo        = netip.MustParsePrefix("2001::/32")
	compatible    = netip.MustParsePrefix("::/96")
	translated    = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT IPv4-translated, RFC 6145
)

// Classify returns why addr would be refused, or Public. An IPv6 address that embeds IPv4
// addresses takes the category of the first refused one among them (Public if none is).
func Classify(addr netip.Addr) Category {
	addr = addr.WithZone("").Unmap()
	if !addr.IsValid() {
		return Reserved
	}
	if nat64Local.Contains(addr) {
		return classifyLocalNAT64(addr)
	}
	if embedded, ok := embeddedIPv4(addr); ok {
		for _, a := range embedded {
			if cat := classifyPlain(a); cat != Public {
				return cat
			}
		}
		return Public
	}
	return classifyPlain(addr)
}

// classifyPlain classifies addr by the tables alone, with no look at embedded addresses.
func classifyPlain(addr netip.Addr) Category {
	for _, m := range metadataAddrs {
		if addr == m {
			return Metadata
		}
	}
	for _, r := range ranges {
		if r.p.Contains(addr) {
			return r.cat
		}
	}
	if addr.Is6() && !globalUnicast.Contains(addr) {
		return Reserved // unassigned outside 2000::/3, the discard prefix 100::/64, SRv6 5f00::/16, ...
	}
	return Public
}

// embeddedIPv4 returns the IPv4 addresses an IPv6 address carries, and whether it is one of the
// forms that carry them. addr is unmapped and has no zone.
func embeddedIPv4(addr netip.Addr) ([]netip.Addr, bool) {
	if !addr.Is6() {
		return nil, false
	}
	b := addr.As16()
	v4 := func(i, j, k, l int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[j], b[k], b[l]}) }
	switch {
	case addr == netip.IPv6Unspecified() || addr == netip.IPv6Loopback():
		return nil, false
	case compatible.Contains(addr), translated.Contains(addr), nat64.Contains(addr):
		return []netip.Addr{v4(12, 13, 14, 15)}, true
	case nat64Local.Contains(addr):
		// RFC 6052 section 2.2: bits 64-71 are the zero "u" octet, so every layout skips b[8].
		return []netip.Addr{
			v4(6, 7, 9, 10),    // /48
			v4(7, 9, 10, 11),   // /56
			v4(9, 10, 11, 12),  // /64
			v4(12, 13, 14, 15), // /96
		}, true
	case sixTo4.Contains(addr):
		return []netip.Addr{v4(2, 3, 4, 5)}, true
	case teredo.Contains(addr):
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		return []netip.Addr{v4(4, 5, 6, 7), client}, true
	}
	return nil, false
}

// classifyLocalNAT64 judges the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215). It is not
// globally reachable, and where the IPv4 address sits depends on the prefix length its operator
// chose inside it (RFC 6052 section 2.2 layouts /48, /56, /64 or /96; bits 64-71 are the zero "u"
// octet), so it is refused whole: Metadata if any layout carries a metadata address (so that
// AllowPrivate does not open it), else the /48 layout's category if that is refused, else Reserved.
func classifyLocalNAT64(addr netip.Addr) Category {
	b := addr.As16()
	v4 := func(i, j, k, l int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[j], b[k], b[l]}) }
	layouts := []netip.Addr{v4(6, 7, 9, 10), v4(7, 9, 10, 11), v4(9, 10, 11, 12), v4(12, 13, 14, 15)}
	for _, a := range layouts {
		if classifyPlain(a) == Metadata {
			return Metadata
		}
	}
	if cat := classifyPlain(layouts[0]); cat != Public {
		return cat
	}
	return Reserved
}

// AllowCIDR is one HOOKLINE_CALLBACK_ALLOW_CIDRS entry: a prefix and a port, 0 meaning every port.
type AllowCIDR struct {
	Prefix netip.Prefix
	Port   uint16
}

// String renders the entry in the syntax ParseAllowCIDR reads.
func (a AllowCIDR) String() string {
	switch {
	case a.Port == 0:
		return a.Prefix.String()
	case a.Prefix.Addr().Is6():
		return "[" + a.Prefix.String() + "]:" + strconv.Itoa(int(a.Port))
	}
	return a.Prefix.String() + ":" + strconv.Itoa(int(a.Port))
}

// ErrBadAllowCIDR is returned by ParseAllowCIDR for an entry it cannot read.
var ErrBadAllowCIDR = errors.New("want a CIDR with an optional port: 10.0.0.0/8, 10.0.0.0/8:8443 or [fd00::/8]:443")

// ParseAllowCIDR reads one allow entry: "<cidr>" (every port) or "<cidr>:<port>" (that port
// only). An IPv6 CIDR with a port is written in brackets, "[fd00::/8]:443"; since the prefix
// length after "/" is digits only, "fd00::/8:443" reads the same. A prefix length is required
// (127.0.0.1/32, not 127.0.0.1), and the prefix is masked to its network.
func ParseAllowCIDR(s string) (AllowCIDR, error) {
	s = strings.TrimSpace(s)
	cidr, port := s, ""
	if rest, ok := strings.CutPrefix(s, "["); ok {
		inner, after, found := strings.Cut(rest, "]")
		if !found {
			return AllowCIDR{}, fmt.Errorf("%w: %q has no closing bracket", ErrBadAllowCIDR, s)
		}
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok || p == "" {
				return AllowCIDR{}, fmt.Errorf("%w: got %q", ErrBadAllowCIDR, s)
			}
			port = p
		}
		cidr = inner
	} else if slash := strings.LastIndexByte(s, '/'); slash >= 0 {
		if bits, p, ok := strings.Cut(s[slash+1:], ":"); ok {
			cidr, port = s[:slash+1]+bits, p
			if port == "" {
				return AllowCIDR{}, fmt.Errorf("%w: got %q", ErrBadAllowCIDR, s)
			}
		}
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil || p.Addr().Zone() != "" {
		return AllowCIDR{}, fmt.Errorf("%w: got %q", ErrBadAllowCIDR, s)
	}
	a := AllowCIDR{Prefix: p.Masked()}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 || port[0] == '+' || (len(port) > 1 && port[0] == '0') {
			return AllowCIDR{}, fmt.Errorf("%w: bad port in %q", ErrBadAllowCIDR, s)
		}
		a.Port = uint16(n)
	}
	return a, nil
}

// Policy decides which addresses are reachable.
type Policy struct {
	// AllowPrivate (HOOKLINE_CALLBACK_ALLOW_PRIVATE) allows every address but the metadata ones.
	AllowPrivate bool
	// AllowCIDRs (HOOKLINE_CALLBACK_ALLOW_CIDRS) are always reachable, metadata included, each on
	// its port or, without one, on every port.
	AllowCIDRs []AllowCIDR
}

// Check returns nil if addr may be reached on every port, else an error wrapping ErrForbidden
// that names the address and why. An AllowCIDRs entry with a port does not count here: use
// CheckAddrPort when the port is known.
func (p Policy) Check(addr netip.Addr) error {
	return p.check(addr, 0)
}

// CheckAddrPort returns nil if ap may be reached, else an error wrapping ErrForbidden.
func (p Policy) CheckAddrPort(ap netip.AddrPort) error {
	if ap.Port() == 0 {
		return fmt.Errorf("%w: port 0", ErrForbidden)
	}
	return p.check(ap.Addr(), ap.Port())
}

// check: port 0 means "every port".
func (p Policy) check(addr netip.Addr, port uint16) error {
	addr = addr.WithZone("")
	plain := addr.Unmap()
	for _, c := range p.AllowCIDRs {
		if (c.Port == 0 || c.Port == port) && (c.Prefix.Contains(addr) || c.Prefix.Contains(plain)) {
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
// and port about to be connected, and refuses them unless the policy allows them.
func (p Policy) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable dial address %q", ErrForbidden, address)
	}
	return p.CheckAddrPort(ap)
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
	host := u.Hostname()
	if _, perr := netip.ParseAddr(host); perr != nil {
		if strings.HasPrefix(u.Host, "[") {
			return nil, fmt.Errorf("%w: bad IPv6 literal", ErrInvalidURL)
		}
		if numericHost(host) {
			return nil, fmt.Errorf("%w: an IPv4 address must be four decimal octets such as 192.0.2.1", ErrInvalidURL)
		}
	}
	return u, nil
}

// numericHost reports whether host, not a canonical IP literal, would still be read as an IPv4
// address by a resolver or a browser: the WHATWG URL rule is that a host whose last label (after
// one trailing dot) is a number, decimal or 0x-hexadecimal, is an IPv4 address ("127.1",
// "0x7f000001", "2130706433", "0177.0.0.1", "0", "127.0.0.1."). inet_aton reads the same forms.
// Such hosts are refused rather than guessed at: no real name ends in a numeric label.
func numericHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return host == "" || strings.HasSuffix(host, ".") // "." and "a.." forms: not a name either
	}
	if strings.Trim(last, "0123456789") == "" {
		return true
	}
	hex, ok := strings.CutPrefix(strings.ToLower(last), "0x")
	return ok && strings.Trim(hex, "0123456789abcdef") == ""
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
	port := uint16(443)
	if strings.EqualFold(u.Scheme, "http") {
		port = 80
	}
	if p := u.Port(); p != "" {
		n, _ := strconv.ParseUint(p, 10, 16) // ParseURL checked it
		port = uint16(n)
	}
	if addr, perr := netip.ParseAddr(host); perr == nil {
		return g.Policy.CheckAddrPort(netip.AddrPortFrom(addr, port))
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
		if err := g.Policy.CheckAddrPort(netip.AddrPortFrom(a, port)); err != nil {
			return fmt.Errorf("%s resolves to a refused address: %w", host, err)
		}
	}
	return nil
}
