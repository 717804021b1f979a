//go:build !linux

package simboard

import "syscall"

// childProcAttr returns nil: outside Linux the Node process ends when its
// stdin closes.
func childProcAttr() *syscall.SysProcAttr {
	return nil
}
