module github.com/hookline/hookline/services/worker

go 1.26.0

require (
	github.com/hookline/hookline/pkg v0.0.0
	github.com/hookline/hookline/proto v0.0.0
)

replace (
	github.com/hookline/hookline/pkg => ../../pkg
	github.com/hookline/hookline/proto => ../../proto
)
