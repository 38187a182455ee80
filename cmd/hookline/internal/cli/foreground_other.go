//go:build !linux

package cli

// takeForeground is a no-op where the terminal's process groups are not managed (see the Linux
// version).
func takeForeground() (restore func()) { return func() {} }
