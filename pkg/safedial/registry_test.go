package safedial

import (
	"errors"
	"net/netip"
	"testing"
)

// ianaBlock is one entry of the IANA IPv4 or IPv6 Special-Purpose Address Registry
// (iana-ipv4-special-registry, iana-ipv6-special-registry), with Hookline's decision.
type ianaBlock struct {
	block   string
	name    string
	refused bool
	// embeds: the block is judged by the IPv4 address it carries (tested in TestClassifyEmbedded).
	embeds bool
}

// The registries, entry by entry. Hookline refuses every block IANA marks not globally
// reachable, and also the global anycast and identifier blocks inside 192.0.0.0/24 and 2001::/23
// (PCP, TURN, DNS-SD SRP, AMT, AS112-v6, ORCHIDv2, DETs): none of them is an HTTP callback
// destination. The IPv4 AS112 and AMT blocks outside those are ordinary global unicast: allowed.
var ianaIPv4 = []ianaBlock{
	{block: "0.0.0.0/8", name: "This network", refused: true},
	{block: "0.0.0.0/32", name: "This host on this network", refused: true},
	{block: "10.0.0.0/8", name: "Private-Use", refused: true},
	{block: "100.64.0.0/10", name: "Shared Address Space", refused: true},
	{block: "127.0.0.0/8", name: "Loopback", refused: true},
	{block: "169.254.0.0/16", name: "Link Local", refused: true},
	{block: "172.16.0.0/12", name: "Private-Use", refused: true},
	{block: "192.0.0.0/24", name: "IETF Protocol Assignments", refused: true},
	{block: "192.0.0.0/29", name: "IPv4 Service Continuity Prefix", refused: true},
	{block: "192.0.0.8/32", name: "IPv4 dummy address", refused: true},
	{block: "192.0.0.9/32", name: "Port Control Protocol Anycast", refused: true},
	{block: "192.0.0.10/32", name: "Traversal Using Relays around NAT Anycast", refused: true},
	{block: "192.0.0.170/32", name: "NAT64/DNS64 Discovery", refused: true},
	{block: "192.0.0.171/32", name: "NAT64/DNS64 Discovery", refused: true},
	{block: "192.0.2.0/24", name: "Documentation (TEST-NET-1)", refused: true},
	{block: "192.31.196.0/24", name: "AS112-v4", refused: false},
	{block: "192.52.193.0/24", name: "AMT", refused: false},
	{block: "192.88.99.0/24", name: "Deprecated (6to4 Relay Anycast)", refused: true},
	{block: "192.168.0.0/16", name: "Private-Use", refused: true},
	{block: "192.175.48.0/24", name: "Direct Delegation AS112 Service", refused: false},
	{block: "198.18.0.0/15", name: "Benchmarking", refused: true},
	{block: "198.51.100.0/24", name: "Documentation (TEST-NET-2)", refused: true},
	{block: "203.0.113.0/24", name: "Documentation (TEST-NET-3)", refused: true},
	{block: "240.0.0.0/4", name: "Reserved", refused: true},
	{block: "255.255.255.255/32", name: "Limited Broadcast", refused: true},
}

var ianaIPv6 = []ianaBlock{
	{block: "::1/128", name: "Loopback Address", refused: true},
	{block: "::/128", name: "Unspecified Address", refused: true},
	{block: "::ffff:0:0/96", name: "IPv4-mapped Address", embeds: true},
	{block: "64:ff9b::/96", name: "IPv4-IPv6 Translat.", embeds: true},
	{block: "64:ff9b:1::/48", name: "Local-use IPv4/IPv6 Translation", refused: true}, // whole; see TestClassifyLocalNAT64
	{block: "100::/64", name: "Discard-Only Address Block", refused: true},
	{block: "100:0:0:1::/64", name: "Dummy IPv6 Prefix", refused: true},
	{block: "2001::/23", name: "IETF Protocol Assignments", refused: true},
	{block: "2001::/32", name: "TEREDO", embeds: true},
	{block: "2001:1::1/128", name: "Port Control Protocol Anycast", refused: true},
	{block: "2001:1::2/128", name: "Traversal Using Relays around NAT Anycast", refused: true},
	{block: "2001:1::3/128", name: "DNS-SD Service Registration Protocol Anycast", refused: true},
	{block: "2001:2::/48", name: "Benchmarking", refused: true},
	{block: "2001:3::/32", name: "AMT", refused: true},
	{block: "2001:4:112::/48", name: "AS112-v6", refused: true},
	{block: "2001:10::/28", name: "Deprecated (previously ORCHID)", refused: true},
	{block: "2001:20::/28", name: "ORCHIDv2", refused: true},
	{block: "2001:30::/28", name: "Drone Remote ID Protocol Entity Tags (DETs) Prefix", refused: true},
	{block: "2001:db8::/32", name: "Documentation", refused: true},
	{block: "2002::/16", name: "6to4", embeds: true},
	{block: "2620:4f:8000::/48", name: "Direct Delegation AS112 Service", refused: false},
	{block: "3fff::/20", name: "Documentation", refused: true},
	{block: "5f00::/16", name: "Segment Routing (SRv6) SIDs", refused: true},
	{block: "fc00::/7", name: "Unique-Local", refused: true},
	{block: "fe80::/10", name: "Link-Local Unicast", refused: true},
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestClassifyIANARegistries(t *testing.T) {
	for _, tt := range append(append([]ianaBlock{}, ianaIPv4...), ianaIPv6...) {
		if tt.embeds {
			continue
		}
		p := netip.MustParsePrefix(tt.block)
		for _, a := range []netip.Addr{p.Addr(), p.Addr().Next(), lastAddr(p)} {
			if !p.Contains(a) {
				continue
			}
			t.Run(tt.block+"/"+a.String(), func(t *testing.T) {
				cat := Classify(a)
				if got := cat != Public; got != tt.refused {
					t.Errorf("%s (%s): Classify(%s) = %q, want refused=%v", tt.block, tt.name, a, cat, tt.refused)
				}
				err := Policy{}.Check(a)
				if got := err != nil; got != tt.refused {
					t.Errorf("%s (%s): Check(%s) = %v, want refused=%v", tt.block, tt.name, a, err, tt.refused)
				}
			})
		}
	}
}

// Builders of the IPv6 forms that embed an IPv4 address.
func v6(b [16]byte) netip.Addr { return netip.AddrFrom16(b) }

func embedAt(prefix string, v4 string, at ...int) netip.Addr {
	b := netip.MustParseAddr(prefix).As16()
	four := netip.MustParseAddr(v4).As4()
	for i, pos := range at {
		b[pos] = four[i]
	}
	return v6(b)
}

func teredoAddr(server, client string) netip.Addr {
	b := netip.MustParseAddr("2001::").As16()
	s := netip.MustParseAddr(server).As4()
	c := netip.MustParseAddr(client).As4()
	copy(b[4:8], s[:])
	b[8], b[10], b[11] = 0x80, 0xab, 0xcd // flags and obfuscated port: not judged
	for i := range 4 {
		b[12+i] = ^c[i]
	}
	return v6(b)
}

func TestClassifyEmbedded(t *testing.T) {
	forms := []struct {
		name  string
		build func(v4 string) netip.Addr
	}{
		{"IPv4-mapped ::ffff:a.b.c.d", func(v4 string) netip.Addr { return embedAt("::ffff:0:0", v4, 12, 13, 14, 15) }},
		{"IPv4-compatible ::a.b.c.d", func(v4 string) netip.Addr { return embedAt("::", v4, 12, 13, 14, 15) }},
		{"SIIT ::ffff:0:a.b.c.d", func(v4 string) netip.Addr { return embedAt("::ffff:0:0:0", v4, 12, 13, 14, 15) }},
		{"NAT64 64:ff9b::/96", func(v4 string) netip.Addr { return embedAt("64:ff9b::", v4, 12, 13, 14, 15) }},
		{"6to4 2002::/16", func(v4 string) netip.Addr { return embedAt("2002::1", v4, 2, 3, 4, 5) }},
		{"Teredo client", func(v4 string) netip.Addr { return teredoAddr("8.8.4.4", v4) }},
		{"Teredo server", func(v4 string) netip.Addr { return teredoAddr(v4, "8.8.4.4") }},
	}
	embedded := []struct {
		v4   string
		want Category
	}{
		{"8.8.8.8", Public},
		{"127.0.0.1", Loopback},
		{"10.1.2.3", Private},
		{"192.168.0.1", Private},
		{"169.254.169.254", Metadata},
		{"169.254.10.10", LinkLocal},
		{"0.0.0.2", Unspecified},
		{"192.0.2.1", Documentation},
		{"224.0.0.1", Multicast},
	}
	for _, f := range forms {
		for _, e := range embedded {
			a := f.build(e.v4)
			t.Run(f.name+"/"+e.v4, func(t *testing.T) {
				if got := Classify(a); got != e.want {
					t.Errorf("Classify(%s) = %q, want %q (embedded %s)", a, got, e.want, e.v4)
				}
			})
		}
	}
}

func TestClassifyLocalNAT64(t *testing.T) {
	layouts := []struct {
		name  string
		build func(v4 string) netip.Addr
	}{
		{"/48", func(v4 string) netip.Addr { return embedAt("64:ff9b:1::", v4, 6, 7, 9, 10) }},
		{"/56", func(v4 string) netip.Addr { return embedAt("64:ff9b:1:ab00::", v4, 7, 9, 10, 11) }},
		{"/64", func(v4 string) netip.Addr { return embedAt("64:ff9b:1:abcd::", v4, 9, 10, 11, 12) }},
		{"/96", func(v4 string) netip.Addr { return embedAt("64:ff9b:1:abcd::", v4, 12, 13, 14, 15) }},
	}
	for _, l := range layouts {
		for _, v4 := range []string{"8.8.8.8", "127.0.0.1", "10.1.2.3", "169.254.169.254"} {
			a := l.build(v4)
			t.Run(l.name+"/"+v4, func(t *testing.T) {
				if err := (Policy{}).Check(a); !errors.Is(err, ErrForbidden) {
					t.Errorf("Check(%s) = %v, want refused (local-use NAT64 is refused whole)", a, err)
				}
				open := Policy{AllowPrivate: true}.Check(a)
				if v4 == "169.254.169.254" && !errors.Is(open, ErrForbidden) {
					t.Errorf("AllowPrivate Check(%s) = %v, want the metadata address still refused", a, open)
				}
			})
		}
	}
	if got := Classify(embedAt("64:ff9b:1::", "127.0.0.1", 6, 7, 9, 10)); got != Loopback {
		t.Errorf("/48 layout of 127.0.0.1 = %q, want loopback", got)
	}
}

func TestParseAllowCIDR(t *testing.T) {
	tests := []struct {
		give    string
		want    AllowCIDR
		wantErr bool
	}{
		{give: "10.0.0.0/8", want: AllowCIDR{Prefix: netip.MustParsePrefix("10.0.0.0/8")}},
		{give: "10.1.2.3/16", want: AllowCIDR{Prefix: netip.MustParsePrefix("10.1.0.0/16")}},
		{give: "10.0.0.0/8:8443", want: AllowCIDR{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Port: 8443}},
		{give: " 127.0.0.1/32:8080 ", want: AllowCIDR{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 8080}},
		{give: "fd00::/8", want: AllowCIDR{Prefix: netip.MustParsePrefix("fd00::/8")}},
		{give: "[fd00::/8]", want: AllowCIDR{Prefix: netip.MustParsePrefix("fd00::/8")}},
		{give: "[fd00::/8]:443", want: AllowCIDR{Prefix: netip.MustParsePrefix("fd00::/8"), Port: 443}},
		{give: "fd00::/8:443", want: AllowCIDR{Prefix: netip.MustParsePrefix("fd00::/8"), Port: 443}},
		{give: "[::1/128]:65535", want: AllowCIDR{Prefix: netip.MustParsePrefix("::1/128"), Port: 65535}},
		{give: "10.0.0.1", wantErr: true},
		{give: "10.0.0.1:80", wantErr: true},
		{give: "[::1]:80", wantErr: true},
		{give: "10.0.0.0/8:", wantErr: true},
		{give: "10.0.0.0/8:0", wantErr: true},
		{give: "10.0.0.0/8:65536", wantErr: true},
		{give: "10.0.0.0/8:+80", wantErr: true},
		{give: "10.0.0.0/8:080", wantErr: true},
		{give: "10.0.0.0/8:80:81", wantErr: true},
		{give: "[fd00::/8", wantErr: true},
		{give: "[fd00::/8]443", wantErr: true},
		{give: "[fd00::/8]:", wantErr: true},
		{give: "10.0.0.0/33", wantErr: true},
		{give: "fe80::/10%eth0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := ParseAllowCIDR(tt.give)
			if tt.wantErr {
				if !errors.Is(err, ErrBadAllowCIDR) {
					t.Fatalf("ParseAllowCIDR(%q) = %v, %v; want ErrBadAllowCIDR", tt.give, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseAllowCIDR(%q) = %v, %v; want %v", tt.give, got, err, tt.want)
			}
			if back, err := ParseAllowCIDR(got.String()); err != nil || back != got {
				t.Fatalf("round trip of %v via %q = %v, %v", got, got.String(), back, err)
			}
		})
	}
}

func TestPolicyPorts(t *testing.T) {
	p := Policy{AllowCIDRs: []AllowCIDR{
		{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 8080},
		{Prefix: netip.MustParsePrefix("10.0.0.0/8")},
		{Prefix: netip.MustParsePrefix("fd00::/8"), Port: 443},
	}}
	tests := []struct {
		give string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.1:6379", false},
		{"127.0.0.2:8080", false},
		{"[::ffff:127.0.0.1]:8080", true},
		{"[::ffff:127.0.0.1]:6379", false},
		{"10.9.9.9:6379", true},
		{"10.9.9.9:1", true},
		{"[fd00::5]:443", true},
		{"[fd00::5]:80", false},
		{"93.184.216.34:6379", true},
		{"93.184.216.34:0", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			err := p.CheckAddrPort(netip.MustParseAddrPort(tt.give))
			if got := err == nil; got != tt.want {
				t.Fatalf("CheckAddrPort(%s) = %v, want allowed=%v", tt.give, err, tt.want)
			}
			if err != nil && !errors.Is(err, ErrForbidden) {
				t.Fatalf("error %v does not wrap ErrForbidden", err)
			}
		})
	}
	if err := p.Check(netip.MustParseAddr("127.0.0.1")); !errors.Is(err, ErrForbidden) {
		t.Errorf("Check(127.0.0.1) without a port = %v, want ErrForbidden (the entry names one port)", err)
	}
}
