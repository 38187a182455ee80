package httpapi

import (
	"math"
	"net/netip"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// addrLimiter is a token bucket per client address for requests that fail verification, so
// unsigned traffic can neither use up a tenant's budget nor make the ingress verify without end.
// Memory is bounded: at most size addresses are tracked, the least recently failing evicted
// first (an evicted address starts again with a full bucket, which it would have regained
// anyway). IPv6 addresses are grouped by /64, the block one host usually owns. The plain LRU
// starts no goroutine.
type addrLimiter struct {
	rps   rate.Limit
	burst int
	retry time.Duration
	cache *lru.Cache[netip.Prefix, *rate.Limiter]
}

// defaultAddrLimiterSize bounds the addresses tracked (about 200 bytes each).
const defaultAddrLimiterSize = 16384

// newAddrLimiter returns nil (no limit) when rps is 0.
func newAddrLimiter(rps float64, burst, size int) (*addrLimiter, error) {
	if rps <= 0 {
		return nil, nil
	}
	c, err := lru.New[netip.Prefix, *rate.Limiter](size)
	if err != nil {
		return nil, err
	}
	return &addrLimiter{rps: rate.Limit(rps), burst: max(1, burst), retry: retryAfter(rps), cache: c}, nil
}

// retryAfter is the wait, in whole seconds, for one token at rps.
func retryAfter(rps float64) time.Duration {
	return time.Duration(math.Ceil(1/rps)) * time.Second
}

func addrKey(ip string) netip.Prefix {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Prefix{} // unparsable addresses share one bucket
	}
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits) // bits is valid for the family
	return p
}

// exhausted reports whether ip has no failed verification left to spend (checked before
// verifying, so it costs no CPU beyond a map lookup).
func (l *addrLimiter) exhausted(ip string) bool {
	if l == nil {
		return false
	}
	lim, ok := l.cache.Get(addrKey(ip))
	return ok && lim.Tokens() < 1
}

// failed charges one failed verification to ip.
func (l *addrLimiter) failed(ip string) {
	if l == nil {
		return
	}
	key := addrKey(ip)
	lim, ok := l.cache.Get(key)
	if !ok {
		lim = rate.NewLimiter(l.rps, l.burst)
		if prev, found, _ := l.cache.PeekOrAdd(key, lim); found {
			lim = prev
		}
	}
	lim.Allow()
}
