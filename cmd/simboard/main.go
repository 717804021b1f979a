// Command simboard runs a simulated ESP8266 MicroPython board behind a
// pseudo-terminal, for trying otaflash without hardware.
//
//	go run ./cmd/simboard --flash /tmp/board
//
// prints the port path (such as /dev/pts/7) as the first line of stdout and
// runs until SIGINT or SIGTERM. Exit codes: 0 after a signal, 1 on an error,
// 2 on invalid flags.
package main

import "os"

func main() {
	os.Exit(Main())
}
