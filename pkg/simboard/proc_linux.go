package simboard

import "syscall"

// childProcAttr makes the kernel kill the Node process if this process dies
// without calling Close.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
