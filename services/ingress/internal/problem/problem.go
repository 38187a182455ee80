// Package problem is the ingress's error answer: handlers return a *Problem and the echo error
// handler writes it as `{"code": "...", "message": "..."}` with its status and Retry-After.
package problem

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// Codes of the contract's error table.
const (
	CodeMalformedPayload = "malformed_payload"
	CodeInvalidSignature = "invalid_signature"
	CodeStaleTimestamp   = "stale_timestamp"
	CodeUnknownProvider  = "unknown_provider"
	CodeUnknownTenant    = "unknown_tenant"
	CodePayloadTooLarge  = "payload_too_large"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeInternal         = "internal"
)

// Problem is an error with the HTTP answer it deserves. Message is shown to the caller: it must
// never hold a secret or a signature.
type Problem struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration // > 0 sets Retry-After (whole seconds, at least 1)
	Close      bool          // answer with Connection: close (the connection cannot carry another request)
	Err        error         // the cause, for logs; never shown
}

func (p *Problem) Error() string {
	if p.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", p.Status, p.Code, p.Message, p.Err)
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Message)
}

func (p *Problem) Unwrap() error { return p.Err }

// New returns a problem.
func New(status int, code, message string) *Problem {
	return &Problem{Status: status, Code: code, Message: message}
}

// Wrap returns a problem caused by err.
func Wrap(status int, code, message string, err error) *Problem {
	return &Problem{Status: status, Code: code, Message: message, Err: err}
}

// Malformed is a 400 malformed_payload.
func Malformed(message string) *Problem {
	return New(http.StatusBadRequest, CodeMalformedPayload, message)
}

// Unavailable is a 503 with Retry-After, for a store that did not acknowledge in time.
func Unavailable(retryAfter time.Duration, err error) *Problem {
	return &Problem{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
		Message: "the message store did not acknowledge in time; retry later", RetryAfter: retryAfter, Err: err}
}

// ReadFailed is the answer to a body that could not be read. A read that timed out (a client
// sending slower than the server's read timeout) is not a bad request: it is a 503 with
// Retry-After, which every provider retries, where a 4xx would end the delivery for good. Any
// other read error (the client broke the framing) is a 400 malformed_payload.
func ReadFailed(retryAfter time.Duration, err error) *Problem {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &Problem{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the body did not arrive within the read timeout; retry later", RetryAfter: retryAfter,
			Close: true, Err: fmt.Errorf("%w: %w", ErrReadTimeout, err)}
	}
	return Wrap(http.StatusBadRequest, CodeMalformedPayload, "could not read the body", err)
}

// ErrReadTimeout marks a ReadFailed problem caused by the read deadline.
var ErrReadTimeout = errors.New("body read timed out")
