package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// machine describes the host that ran the benchmark.
type machine struct {
	cpuModel string
	cores    int
	goVer    string
	nodeVer  string
	kernel   string
	// loadAverage is /proc/loadavg's 1, 5 and 15 minute figures at the
	// start, because other processes on the host slow the simulated board.
	loadAverage string
}

func describeMachine(ctx context.Context) machine {
	return machine{
		cpuModel:    cpuModel(),
		cores:       runtime.NumCPU(),
		goVer:       runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		nodeVer:     commandOutput(ctx, "node", "--version"),
		kernel:      commandOutput(ctx, "uname", "-sr"),
		loadAverage: loadAverage(),
	}
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "unknown".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

// commandOutput returns the trimmed output of a command, or "unknown" when
// it fails.
func commandOutput(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	fields := strings.Fields(string(data))
	if err != nil || len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
