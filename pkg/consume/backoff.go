package consume

import "time"

// Backoff returns the redelivery delay after failed delivery n (1-based): delays[n-1], the last
// entry repeating; n 0 counts as 1. It is the one backoff of Hookline: the engine, the worker's
// outage answer and the SDK all use it. Empty delays give 1s.
func Backoff(delays []time.Duration, n uint64) time.Duration {
	if len(delays) == 0 {
		return time.Second
	}
	i := min(max(n, 1), uint64(len(delays))) - 1
	return delays[i]
}
