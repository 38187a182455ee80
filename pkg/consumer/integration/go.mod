module github.com/hookline/hookline/pkg/consumer/integration

go 1.26.0

require (
	github.com/hookline/hookline/pkg v0.1.0
	github.com/hookline/hookline/pkg/consume v0.1.0
	github.com/hookline/hookline/pkg/consumer v0.1.0
	github.com/hookline/hookline/proto v0.1.0
	github.com/nats-io/nats.go v1.55.0
	google.golang.org/protobuf v1.36.12
)
