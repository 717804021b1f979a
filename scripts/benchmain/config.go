package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// config holds the benchmark's flag values.
type config struct {
	profiles []string
	modes    []string
	seed     uint64
	size     int
	files    int
	keep     bool
	trace    bool
	// args are the command-line arguments as given, for the report.
	args []string
}

const usageText = `Usage: scripts/bench [flags]

Builds otaflash, generates an app of mixed text and binary files in two
versions that differ in one file, and for each firmware profile and transfer
mode installs the first version on a fresh simulated ESP8266 board and then
updates it to the second. Prints a markdown table on stdout and progress on
stderr.

Flags:
`

// parseConfig parses the command-line flags. It returns flag.ErrHelp after
// printing the usage for --help.
func parseConfig(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	profiles := fs.String("profiles", "1.27,1.13", `comma-separated firmware profiles of the simulated board: "1.27" and "1.13"`)
	modes := fs.String("modes", "binary,base64", "comma-separated values of otaflash --transfer: binary, base64 or auto")
	seed := fs.Uint64("seed", 1, "seed of the generated app's file sizes and contents")
	size := fs.Int("size", 100_000, "total size of the generated app in bytes")
	files := fs.Int("files", 30, "number of files in the generated app")
	keep := fs.Bool("keep", false, "keep the temporary folder with the generated app, the flash folders and each run's otaflash output, and print its path")
	trace := fs.Bool("trace", false, "pass -v to otaflash so that its output logs contain the raw REPL traffic (implies --keep; adds to otaflash's CPU time)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q: bench takes only flags (see --help)", fs.Arg(0))
	}

	cfg := config{
		profiles: splitList(*profiles),
		modes:    splitList(*modes),
		seed:     *seed,
		size:     *size,
		files:    *files,
		keep:     *keep || *trace,
		trace:    *trace,
		args:     args,
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	if len(c.profiles) == 0 {
		return fmt.Errorf("invalid --profiles %q: name at least one of 1.27 and 1.13", "")
	}
	for _, p := range c.profiles {
		if !slices.Contains([]string{"1.27", "1.13"}, p) {
			return fmt.Errorf("invalid --profiles entry %q: use 1.27 or 1.13", p)
		}
	}
	if len(c.modes) == 0 {
		return fmt.Errorf("invalid --modes %q: name at least one of binary, base64 and auto", "")
	}
	for _, m := range c.modes {
		if !slices.Contains([]string{"binary", "base64", "auto"}, m) {
			return fmt.Errorf("invalid --modes entry %q: use binary, base64 or auto", m)
		}
	}
	if c.files < minFiles {
		return fmt.Errorf("invalid --files %d: the app needs at least %d files", c.files, minFiles)
	}
	if c.size < c.files*minFileSize {
		return fmt.Errorf("invalid --size %d: %d files need at least %d bytes", c.size, c.files, c.files*minFileSize)
	}
	return nil
}

// splitList splits a comma-separated flag value and drops empty entries.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
