module github.com/hookline/hookline/pkg/consume/integration

go 1.26.0

require (
	github.com/hookline/hookline/pkg v0.1.0
	github.com/hookline/hookline/pkg/consume v0.1.0
	github.com/nats-io/nats.go v1.55.0
	go.uber.org/zap v1.28.0
)
