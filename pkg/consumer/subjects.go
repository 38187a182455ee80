package consumer

import "strings"

// The part of Hookline's JetStream contract (contract section 4) the SDK needs. Hookline's own
// code keeps it in pkg/streams, which the SDK does not import so that it stays a small module;
// a test in pkg/consumer/integration checks that both agree.
const (
	// Stream is the stream of canonical OrderStatusChanged events.
	Stream = "ORDERS"
	// HeaderContentType and ContentTypeProtobuf mark a canonical event.
	HeaderContentType   = "Content-Type"
	ContentTypeProtobuf = "application/protobuf"
)

// orderSubject is the subject of the events of one tenant and provider.
func orderSubject(tenant, provider string) string {
	return "orders." + tenant + "." + provider + ".status_changed"
}

// validToken reports whether s can stand as one subject token: 1 to 128 letters, digits, '-' or
// '_'.
func validToken(s string) bool {
	const allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	return s != "" && len(s) <= 128 && strings.Trim(s, allowed) == ""
}
