package cli

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// takeForeground moves this process into a process group of its own and makes that group the
// terminal's foreground group, when standard input is a terminal. Ctrl-C then interrupts only
// `hookline dev`, which stops cleanly and exits 0; the processes that started it (make, a shell
// script) are not interrupted, so `make run` ends with exit 0 instead of make's re-raised SIGINT
// (GNU make always re-raises an interrupt it received itself, whatever its recipe did).
// The returned function gives the terminal back to the group that had it. Without a terminal
// nothing changes.
func takeForeground() (restore func()) {
	fd := int(os.Stdin.Fd())
	prev, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || prev != unix.Getpgrp() {
		return func() {} // no terminal, or not in its foreground group: leave it alone
	}
	// A background group that changes the foreground group gets SIGTTOU; ignore it for the
	// two calls (and for the restore, made while this group may be in the background).
	signal.Ignore(syscall.SIGTTOU)
	if err := unix.Setpgid(0, 0); err != nil {
		signal.Reset(syscall.SIGTTOU)
		return func() {}
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, unix.Getpgrp()); err != nil {
		_ = unix.Setpgid(0, prev) // back into the original group, which keeps the terminal
		signal.Reset(syscall.SIGTTOU)
		return func() {}
	}
	return func() {
		_ = unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, prev)
		signal.Reset(syscall.SIGTTOU)
	}
}
