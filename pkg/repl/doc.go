// Package repl speaks MicroPython's raw REPL over a byte stream: it
// interrupts whatever runs on the board, enters the raw REPL, runs small
// commands and returns their output, or their traceback as a *RemoteError.
//
// The protocol is the one MicroPython's pyboard.py and mpremote speak, as
// implemented on the board by shared/runtime/pyexec.c: Ctrl-A enters the raw
// REPL, the board answers "raw REPL; CTRL-B to exit\r\n>"; a command ended by
// Ctrl-D is answered "OK", its stdout, 0x04, its traceback, 0x04 and ">".
// Firmware from v1.14 on also offers raw-paste mode (Ctrl-E "A" Ctrl-A), in
// which the board grants flow-control windows; v1.13 has no flow control, so
// commands are written in paced chunks instead.
//
// A Conn reads the stream from one goroutine, so every read has a deadline and
// a cancelled context returns at once. The package never prints; a trace of
// the traffic goes to Options.Trace when it is set.
package repl
