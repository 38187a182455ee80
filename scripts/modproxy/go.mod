module github.com/hookline/hookline/scripts/modproxy

go 1.25.0

require golang.org/x/mod v0.42.0
