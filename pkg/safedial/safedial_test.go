package safedial

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		give string
		want Category
	}{
		{"8.8.8.8", Public},
		{"2606:4700:4700::1111", Public},
		{"127.0.0.1", Loopback},
		{"127.8.9.10", Loopback},
		{"::1", Loopback},
		{"::ffff:127.0.0.1", Loopback},
		{"64:ff9b::7f00:1", Loopback},
		{"2002:7f00:1::1", Loopback},
		{"10.0.0.1", Private},
		{"172.16.0.1", Private},
		{"172.31.255.255", Private},
		{"172.32.0.1", Public},
		{"192.168.1.1", Private},
		{"100.64.0.1", Private},
		{"169.254.169.254", Metadata},
		{"::ffff:169.254.169.254", Metadata},
		{"169.254.170.2", Metadata},
		{"100.100.100.200", Metadata},
		{"fd00:ec2::254", Metadata},
		{"169.254.1.1", LinkLocal},
		{"fe80::1", LinkLocal},
		{"fe80::1%eth0", LinkLocal},
		{"fc00::1", UniqueLocal},
		{"fd12:3456::1", UniqueLocal},
		{"0.0.0.0", Unspecified},
		{"::", Unspecified},
		{"224.0.0.1", Multicast},
		{"ff02::1", Multicast},
		{"255.255.255.255", Reserved},
		// IPv6 forms that embed an IPv4 address (issue 10 item 7); more in registry_test.go.
		{"::127.0.0.1", Loopback},
		{"::169.254.169.254", Metadata},
		{"::ffff:0:10.0.0.1", Private},
		{"::ffff:0:127.0.0.1", Loopback},
		{"64:ff9b::10.0.0.1", Private},
		{"64:ff9b::8.8.8.8", Public},
		{"64:ff9b:1:7f00:0:100::", Loopback}, // /48 layout: 127.0 | u | 0.1
		{"2002:a00:1::1", Private},
		{"2002:808:808::1", Public},
		{"2001:0:4136:e378:8000:63bf:f5ff:fffe", Private},       // client 10.0.0.1
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", Documentation}, // RFC 4380's example client 192.0.2.45
		{"2001:0:a00:1:8000:63bf:f7f7:f7f7", Private},           // server 10.0.0.1
		{"::", Unspecified},
		{"::1", Loopback},
		{"::2", Unspecified}, // ::0.0.0.2
		{"fec0::1", LinkLocal},
		{"4000::1", Reserved},
		{"2a00:1450:4001:82b::200e", Public},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if got := Classify(netip.MustParseAddr(tt.give)); got != tt.want {
				t.Errorf("Classify(%s) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

func TestPolicyCheck(t *testing.T) {
	allow := []AllowCIDR{{Prefix: netip.MustParsePrefix("10.1.0.0/16")}, {Prefix: netip.MustParsePrefix("169.254.169.254/32")}}
	tests := []struct {
		name   string
		policy Policy
		give   string
		want   bool // allowed
	}{
		{"public", Policy{}, "93.184.216.34", true},
		{"loopback refused", Policy{}, "127.0.0.1", false},
		{"ipv6 loopback refused", Policy{}, "::1", false},
		{"private refused", Policy{}, "10.0.0.1", false},
		{"metadata refused", Policy{}, "169.254.169.254", false},
		{"unspecified refused", Policy{}, "0.0.0.0", false},
		{"allow private: loopback", Policy{AllowPrivate: true}, "127.0.0.1", true},
		{"allow private: private", Policy{AllowPrivate: true}, "192.168.0.10", true},
		{"allow private: metadata still refused", Policy{AllowPrivate: true}, "169.254.169.254", false},
		{"cidr allows inside", Policy{AllowCIDRs: allow}, "10.1.2.3", true},
		{"cidr allows mapped inside", Policy{AllowCIDRs: allow}, "::ffff:10.1.2.3", true},
		{"cidr does not allow outside", Policy{AllowCIDRs: allow}, "10.2.0.1", false},
		{"cidr allows metadata when named", Policy{AllowCIDRs: allow}, "169.254.169.254", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(netip.MustParseAddr(tt.give))
			if got := err == nil; got != tt.want {
				t.Fatalf("Check(%s) = %v, want allowed=%v", tt.give, err, tt.want)
			}
			if err != nil && !errors.Is(err, ErrForbidden) {
				t.Fatalf("error %v does not wrap ErrForbidden", err)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"https://example.com/cb", true},
		{"http://example.com:8080/cb?x=1", true},
		{"HTTPS://example.com/", true},
		{"ftp://example.com/", false},
		{"javascript:alert(1)", false},
		{"/relative/path", false},
		{"https:///nohost", false},
		{"https://user:pw@example.com/", false},
		{"https://example.com:99999/", false},
		{"https://example.com:0/", false},
		{"not a url at all", false},
		{"", false},
		// Hosts a resolver or browser reads as IPv4 but that are no canonical dotted quad.
		{"http://127.1/", false},
		{"http://127.0.1/", false},
		{"http://0x7f000001/", false},
		{"http://0X7F000001/", false},
		{"http://2130706433/", false},
		{"http://0177.0.0.1/", false},
		{"http://127.0.0.01/", false},
		{"http://0/", false},
		{"http://0x/", false},
		{"http://127.0.0.1./", false},
		{"http://1.2.3.4.5/", false},
		{"http://0x7f.0.0.1/", false},
		{"http://example.0x1/", false},
		{"http://example.123/", false},
		{"http://127.0.0.1../", false},
		{"http://[::1.2.3]/", false},
		{"http://93.184.216.34/", true},
		{"http://[::ffff:93.184.216.34]/", true},
		{"http://example.com./", true},
		{"http://1password.com/", true},
		{"http://0xdeadbeef.example/", true},
		{"http://deadbeef/", true},
		{"http://a1/", true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			_, err := ParseURL(tt.give)
			if got := err == nil; got != tt.want {
				t.Fatalf("ParseURL(%q) = %v, want ok=%v", tt.give, err, tt.want)
			}
			if err != nil && !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("error %v does not wrap ErrInvalidURL", err)
			}
		})
	}
}

// fakeResolver answers from a table; unknown names fail like NXDOMAIN.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, 0, len(ips))
	for _, s := range ips {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestGuardCheckURL(t *testing.T) {
	res := fakeResolver{
		"public.example":   {"93.184.216.34"},
		"rebind.example":   {"127.0.0.1"},
		"mixed.example":    {"93.184.216.34", "10.0.0.7"},
		"metadata.example": {"169.254.169.254"},
		"v6local.example":  {"::1"},
	}
	tests := []struct {
		name    string
		policy  Policy
		give    string
		wantErr error
	}{
		{"public name", Policy{}, "https://public.example/cb", nil},
		{"unresolvable name passes to the dialer", Policy{}, "https://nowhere.example/cb", nil},
		{"loopback literal", Policy{}, "http://127.0.0.1:8080/cb", ErrForbidden},
		{"private literal", Policy{}, "http://10.0.0.1/cb", ErrForbidden},
		{"metadata literal", Policy{}, "http://169.254.169.254/latest/meta-data", ErrForbidden},
		{"ipv6 loopback literal", Policy{}, "http://[::1]:8080/cb", ErrForbidden},
		{"name resolving to loopback", Policy{}, "https://rebind.example/cb", ErrForbidden},
		{"name resolving to ipv6 loopback", Policy{}, "https://v6local.example/cb", ErrForbidden},
		{"any refused address refuses", Policy{}, "https://mixed.example/cb", ErrForbidden},
		{"allow private: loopback", Policy{AllowPrivate: true}, "http://127.0.0.1:8080/cb", nil},
		{"allow private: name to loopback", Policy{AllowPrivate: true}, "https://rebind.example/cb", nil},
		{"allow private: metadata by name", Policy{AllowPrivate: true}, "https://metadata.example/", ErrForbidden},
		{"ipv4-compatible loopback literal", Policy{}, "http://[::127.0.0.1]:8080/cb", ErrForbidden},
		{"ipv4-compatible metadata literal", Policy{}, "http://[::169.254.169.254]/", ErrForbidden},
		{"teredo with private client", Policy{}, "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", ErrForbidden},
		{"short ipv4 refused", Policy{}, "http://127.1:8080/cb", ErrInvalidURL},
		{"cidr with port: that port", Policy{AllowCIDRs: []AllowCIDR{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 8080}}}, "http://127.0.0.1:8080/cb", nil},
		{"cidr with port: another port", Policy{AllowCIDRs: []AllowCIDR{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 8080}}}, "http://127.0.0.1:6379/cb", ErrForbidden},
		{"cidr with port: scheme default port", Policy{AllowCIDRs: []AllowCIDR{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 443}}}, "https://127.0.0.1/cb", nil},
		{"cidr with port: http default is 80", Policy{AllowCIDRs: []AllowCIDR{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 443}}}, "http://127.0.0.1/cb", ErrForbidden},
		{"cidr with port: name resolving there", Policy{AllowCIDRs: []AllowCIDR{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 8080}}}, "http://rebind.example:6379/", ErrForbidden},
		{"not http", Policy{}, "ftp://public.example/", ErrInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &Guard{Policy: tt.policy, Resolver: res}
			err := g.CheckURL(context.Background(), tt.give)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("CheckURL(%s) = %v, want nil", tt.give, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("CheckURL(%s) = %v, want %v", tt.give, err, tt.wantErr)
			}
		})
	}
}

// The real resolver maps "localhost" to loopback through /etc/hosts.
func TestGuardCheckURLLocalhost(t *testing.T) {
	g := &Guard{}
	if err := g.CheckURL(context.Background(), "http://localhost:8080/cb"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("CheckURL(localhost) = %v, want ErrForbidden", err)
	}
}

// The dialer refuses at connect time, whatever the name resolved to, even with a listener there.
func TestDialerRefusesAtConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	lnAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	localhost := net.JoinHostPort("localhost", strconv.Itoa(port))

	tests := []struct {
		name    string
		policy  Policy
		addr    string
		allowed bool
	}{
		{"loopback literal refused", Policy{}, lnAddr, false},
		{"localhost name refused", Policy{}, localhost, false},
		{"ipv6 loopback refused", Policy{}, "[::1]:9", false},
		{"private refused before any packet", Policy{}, "10.0.0.1:9", false},
		{"metadata refused before any packet", Policy{}, "169.254.169.254:80", false},
		{"allow private connects", Policy{AllowPrivate: true}, lnAddr, true},
		{"allow private connects by name", Policy{AllowPrivate: true}, localhost, true},
		{"allow cidr connects", Policy{AllowCIDRs: []AllowCIDR{{Prefix: netip.MustParsePrefix("127.0.0.0/8")}}}, lnAddr, true},
		{"allow cidr on this port connects", Policy{AllowCIDRs: []AllowCIDR{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: uint16(port)}}}, lnAddr, true},
		{"allow cidr on another port refused", Policy{AllowCIDRs: []AllowCIDR{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: uint16(port%65535 + 1)}}}, lnAddr, false},
		{"ipv4-compatible loopback refused", Policy{}, "[::127.0.0.1]:9", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := tt.policy.Dialer(2*time.Second).DialContext(ctx, "tcp", tt.addr)
			if c != nil {
				_ = c.Close()
			}
			if tt.allowed && err != nil {
				t.Fatalf("dial %s: %v, want connected", tt.addr, err)
			}
			if !tt.allowed && !errors.Is(err, ErrForbidden) {
				t.Fatalf("dial %s: %v, want ErrForbidden", tt.addr, err)
			}
		})
	}
}
