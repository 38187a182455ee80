package main

import (
	"strings"
	"testing"
)

func TestRunRefusesInvalidConfig(t *testing.T) {
	t.Setenv("HOOKLINE_CALLBACK_SECRET", "s")
	t.Setenv("HOOKLINE_CALLBACK_TIMEOUT", "abc")
	err := run()
	if err == nil || !strings.Contains(err.Error(), "HOOKLINE_CALLBACK_TIMEOUT") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("run() = %v, want one line naming HOOKLINE_CALLBACK_TIMEOUT", err)
	}
}
