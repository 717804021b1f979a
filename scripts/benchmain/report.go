package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/otaflash/otaflash/pkg/simboard"
)

// lineRate is the simulated line's limit in bytes per second: 8N1 framing
// sends 10 bits per byte.
const lineRate = simboard.DefaultBaud / 10

// Targets that the report checks the figures against.
const (
	targetBinary      = 0.85 // efficiency of a full install in binary
	targetV113Base64  = 0.60 // efficiency of a full install in base64 on v1.13
	targetDeltaWire   = 0.05 // a one-file update's wire bytes over the full install's
	targetRSS         = 50 << 20
	targetCPUFraction = 0.10 // otaflash CPU time over wall time
)

// report is the benchmark's output: context, measurements and target checks.
type report struct {
	config  config
	machine machine
	app     string
	rows    []measurement
}

func (r report) write(w io.Writer) {
	fmt.Fprintf(w, "Command: `%s`\n\n", r.command())
	fmt.Fprintf(w, "Machine: %s, %d logical CPUs, %s, load average %s at the start; %s; Node.js %s\n\n",
		r.machine.cpuModel, r.machine.cores, r.machine.kernel, r.machine.loadAverage, r.machine.goVer, r.machine.nodeVer)
	fmt.Fprintf(w, "App: %s\n\n", r.app)
	fmt.Fprintf(w, "Each run: `otaflash update --port PTY --source DIR --version V --no-reset --transfer MODE` "+
		"on a freshly started simulated ESP8266 (default wire model, %d baud, line limit %d B/s).\n\n",
		simboard.DefaultBaud, lineRate)
	r.writeTable(w)
	fmt.Fprintln(w)
	r.writeTargets(w)
	r.writeWarnings(w)
}

// command returns the command line that reproduces the report.
func (r report) command() string {
	parts := []string{"bash scripts/bench"}
	for _, a := range r.config.args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,/") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var tableHeader = []string{
	"firmware", "transfer", "run", "wall s", "payload B", "payload B/s", "efficiency",
	"host→board B", "board→host B", "wire % of full", "line use", "commands",
	"largest command B", "max mem_alloc B", "otaflash max RSS MB", "otaflash CPU s", "CPU % of wall",
}

func (r report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(tableHeader, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(tableHeader)))
	for _, m := range r.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r.cells(m), " | "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "payload: release size (full install) or the changed file's size; efficiency: payload B/s over %d B/s; "+
		"wire: host→board plus board→host bytes; line use: host→board bytes over what the line carries in the wall time.\n", lineRate)
}

func (r report) cells(m measurement) []string {
	seconds := m.wall.Seconds()
	throughput := float64(m.spec.payload) / seconds
	wirePercent := "n/a"
	if full, ok := r.fullInstall(m.spec); ok {
		wirePercent = fmt.Sprintf("%.1f%%", 100*float64(m.wireBytes())/float64(full.wireBytes()))
	}
	return []string{
		m.spec.profile, m.spec.mode, string(m.spec.kind),
		fmt.Sprintf("%.2f", seconds),
		fmt.Sprint(m.spec.payload),
		fmt.Sprintf("%.0f", throughput),
		fmt.Sprintf("%.1f%%", 100*throughput/lineRate),
		fmt.Sprint(m.hostToBoard),
		fmt.Sprint(m.boardToHost),
		wirePercent,
		fmt.Sprintf("%.1f%%", 100*float64(m.hostToBoard)/lineRate/seconds),
		fmt.Sprint(m.commands),
		fmt.Sprint(m.largestCommand),
		fmt.Sprint(m.maxMemAlloc),
		fmt.Sprintf("%.1f", float64(m.maxRSS)/(1<<20)),
		fmt.Sprintf("%.2f", m.cpu.Seconds()),
		fmt.Sprintf("%.1f%%", 100*m.cpu.Seconds()/seconds),
	}
}

// fullInstall returns the full-install measurement of the same profile and mode.
func (r report) fullInstall(spec runSpec) (measurement, bool) {
	for _, m := range r.rows {
		if m.spec.kind == fullInstall && m.spec.profile == spec.profile && m.spec.mode == spec.mode {
			return m, true
		}
	}
	return measurement{}, false
}

// writeTargets lists each target with the figures it applies to.
func (r report) writeTargets(w io.Writer) {
	fmt.Fprintln(w, "Targets:")
	for _, m := range r.rows {
		efficiency := float64(m.spec.payload) / m.wall.Seconds() / lineRate
		name := fmt.Sprintf("%s %s %s", m.spec.profile, m.spec.mode, m.spec.kind)
		switch {
		case m.spec.kind == fullInstall && m.spec.mode == "binary":
			writeTarget(w, name+": efficiency", efficiency, targetBinary, true)
		case m.spec.kind == fullInstall && m.spec.mode == "base64" && m.spec.profile == "1.13":
			writeTarget(w, name+": efficiency", efficiency, targetV113Base64, true)
		case m.spec.kind == oneChanged:
			if full, ok := r.fullInstall(m.spec); ok {
				share := float64(m.wireBytes()) / float64(full.wireBytes())
				writeTarget(w, name+": wire bytes over the full install's", share, targetDeltaWire, false)
			}
		}
	}
	var maxRSS int64
	var maxCPU float64
	for _, m := range r.rows {
		maxRSS = max(maxRSS, m.maxRSS)
		maxCPU = max(maxCPU, m.cpu.Seconds()/m.wall.Seconds())
	}
	fmt.Fprintf(w, "- otaflash max RSS over all runs: %.1f MB, target < %d MB: %s\n",
		float64(maxRSS)/(1<<20), targetRSS>>20, verdict(maxRSS < targetRSS))
	fmt.Fprintf(w, "- otaflash CPU time over wall time, worst run: %.1f%%, target < %.0f%%: %s\n",
		100*maxCPU, 100*targetCPUFraction, verdict(maxCPU < targetCPUFraction))
}

func writeTarget(w io.Writer, name string, value, target float64, atLeast bool) {
	if atLeast {
		fmt.Fprintf(w, "- %s %.1f%%, target >= %.0f%%: %s\n", name, 100*value, 100*target, verdict(value >= target))
		return
	}
	fmt.Fprintf(w, "- %s %.1f%%, target < %.0f%%: %s\n", name, 100*value, 100*target, verdict(value < target))
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}

// writeWarnings notes runs in which the board lost bytes or memory, which
// make their figures unrepresentative.
func (r report) writeWarnings(w io.Writer) {
	for _, m := range r.rows {
		if m.overrun > 0 || m.memoryErrors > 0 {
			fmt.Fprintf(w, "\nWarning: %s %s %s: the board dropped %d bytes (receive buffer full) and raised %d MemoryErrors.\n",
				m.spec.profile, m.spec.mode, m.spec.kind, m.overrun, m.memoryErrors)
		}
	}
}
