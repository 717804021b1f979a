// Package simboard runs a simulated ESP8266 MicroPython board behind a
// pseudo-terminal, so that tools open it exactly like /dev/ttyUSB0.
//
// The board itself (the MicroPython VM, the REPL, the UART receive buffer,
// the flash file system) runs in a Node.js process, sim/board.mjs. This
// package owns the pseudo-terminal and the wire between it and the board:
// baud-rate pacing in both directions, the USB-serial latency, seeded line
// faults and power cuts. The two processes exchange frames over the Node
// process's stdin and stdout: 1 byte type, 4 bytes little-endian payload
// length, then the payload.
//
// The package never prints. Diagnostics go to Options.Log.
package simboard
