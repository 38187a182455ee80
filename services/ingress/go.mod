module github.com/hookline/hookline/services/ingress

go 1.25.0

require github.com/hookline/hookline/pkg v0.0.0

replace github.com/hookline/hookline/pkg => ../../pkg
