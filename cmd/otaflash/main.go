// Command otaflash updates a MicroPython app on a board over USB serial:
// it fetches a release from GitHub (or a local folder or tarball), stages it
// into /next on the board, verifies every file and swaps it in so that a
// power cut leaves either the old or the new version.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
