//go:build !linux

package bench

import "errors"

// PinProcess is only implemented on Linux.
func PinProcess(cpu int) error { return errors.New("bench: pinning to a core needs Linux") }

// cpusOf is only implemented on Linux.
func cpusOf(int) string { return "" }
