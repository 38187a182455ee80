// Package problem is the ingress's error answer: handlers return a *Problem and the echo error
// handler writes it as `{"code": "...", "message": "..."}` with its status and Retry-After.
package problem

import (
	"fmt"
	"net/http"
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
