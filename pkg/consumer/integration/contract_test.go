package consumer_test

import (
	"testing"

	"github.com/hookline/hookline/pkg/consume"
	"github.com/hookline/hookline/pkg/consumer"
	"github.com/hookline/hookline/pkg/streams"
)

// TestContractMatchesStreams: the SDK keeps its own copy of the few contract names it needs (so
// it does not import pkg/streams and its module stays small); they must be Hookline's.
func TestContractMatchesStreams(t *testing.T) {
	tests := []struct {
		name, give, want string
	}{
		{"stream", consumer.Stream, streams.Orders},
		{"content type header", consumer.HeaderContentType, streams.HeaderContentType},
		{"content type", consumer.ContentTypeProtobuf, streams.ContentTypeProtobuf},
		{"dlq stream", consume.DLQStream, streams.DLQ},
		{"dlq subject", consume.DLQSubject("orders.a.b.status_changed"), streams.DLQSubject("orders.a.b.status_changed")},
	}
	for _, tt := range tests {
		if tt.give != tt.want {
			t.Errorf("%s: SDK %q, streams %q", tt.name, tt.give, tt.want)
		}
	}
	got, err := consumer.FilterSubject("t-1", "petstore")
	if err != nil || got != streams.OrderSubject("t-1", "petstore") {
		t.Errorf("FilterSubject = %q, %v; want %q", got, err, streams.OrderSubject("t-1", "petstore"))
	}
	for _, tok := range []string{"default", "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab", "a_b", "a.b", "a b", "*", ">", ""} {
		_, err := consumer.FilterSubject(tok, "x")
		if ok := err == nil; ok != (streams.ValidToken(tok) || tok == "" || tok == "*") {
			t.Errorf("tenant %q: SDK accepts %v, streams.ValidToken %v", tok, ok, streams.ValidToken(tok))
		}
	}
}
