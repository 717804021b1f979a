package main

import (
	"strings"
	"testing"
	"time"
)

func TestReportCells(t *testing.T) {
	full := measurement{
		spec:        runSpec{kind: fullInstall, profile: "1.27", mode: "binary", payload: 115_200},
		wall:        20 * time.Second,
		hostToBoard: 184_320, boardToHost: 15_680,
		maxRSS: 10 << 20, cpu: time.Second,
	}
	delta := measurement{
		spec:        runSpec{kind: oneChanged, profile: "1.27", mode: "binary", payload: 1000},
		wall:        2 * time.Second,
		hostToBoard: 4000, boardToHost: 6000,
	}
	r := report{rows: []measurement{full, delta}}
	tests := []struct {
		name   string
		row    measurement
		column string
		want   string
	}{
		{name: "throughput", row: full, column: "payload B/s", want: "5760"},
		{name: "efficiency", row: full, column: "efficiency", want: "50.0%"},
		{name: "line use", row: full, column: "line use", want: "80.0%"},
		{name: "full wire share", row: full, column: "wire % of full", want: "100.0%"},
		{name: "delta wire share", row: delta, column: "wire % of full", want: "5.0%"},
		{name: "rss", row: full, column: "otaflash max RSS MB", want: "10.0"},
		{name: "cpu share", row: full, column: "CPU % of wall", want: "5.0%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells := r.cells(tt.row)
			i := columnIndex(t, tt.column)
			if cells[i] != tt.want {
				t.Errorf("%s = %q, want %q", tt.column, cells[i], tt.want)
			}
		})
	}
}

func TestReportDeltaWithoutFullInstall(t *testing.T) {
	delta := measurement{spec: runSpec{kind: oneChanged, profile: "1.13", mode: "base64", payload: 10}, wall: time.Second}
	r := report{rows: []measurement{delta}}
	if got := r.cells(delta)[columnIndex(t, "wire % of full")]; got != "n/a" {
		t.Errorf("wire share without a full install = %q, want n/a", got)
	}
}

func TestReportTargets(t *testing.T) {
	rows := []measurement{
		{spec: runSpec{kind: fullInstall, profile: "1.27", mode: "binary", payload: 100_000}, wall: 10 * time.Second,
			hostToBoard: 1000, maxRSS: 60 << 20},
		{spec: runSpec{kind: fullInstall, profile: "1.13", mode: "base64", payload: 100_000}, wall: 10 * time.Second,
			hostToBoard: 1000},
		{spec: runSpec{kind: oneChanged, profile: "1.13", mode: "base64", payload: 10}, wall: time.Second,
			hostToBoard: 40},
	}
	var out strings.Builder
	report{rows: rows}.writeTargets(&out)
	for _, want := range []string{
		"1.27 binary full install: efficiency 86.8%, target >= 85%: met",
		"1.13 base64 full install: efficiency 86.8%, target >= 60%: met",
		"1.13 base64 1 file changed: wire bytes over the full install's 4.0%, target < 5%: met",
		"max RSS over all runs: 60.0 MB, target < 50 MB: missed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("targets lack %q:\n%s", want, out.String())
		}
	}
}

func TestReportCommand(t *testing.T) {
	r := report{config: config{args: []string{"--modes", "binary", "--size", "it's"}}}
	want := `bash scripts/bench --modes binary --size 'it'\''s'`
	if got := r.command(); got != want {
		t.Errorf("command() = %s, want %s", got, want)
	}
}

func TestFilesSent(t *testing.T) {
	tests := []struct {
		name    string
		stdout  string
		want    int
		wantErr bool
	}{
		{name: "full install", stdout: "release: x\nstaged: 30 files sent (97.7 KB), 0 already on the board, in 10.4s\n", want: 30},
		{name: "one file", stdout: "staged: 1 file sent (2.2 KB), 0 copied on the board from the installed version, 0 kept from an earlier run, in 3s\n", want: 1},
		{name: "up to date", stdout: "up to date: the board already runs 1.0.0\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := filesSent(tt.stdout)
			if tt.wantErr {
				if err == nil {
					t.Errorf("filesSent = %d, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("filesSent = %d, %v, want %d", got, err, tt.want)
			}
		})
	}
}

func columnIndex(t *testing.T, name string) int {
	t.Helper()
	for i, h := range tableHeader {
		if h == name {
			return i
		}
	}
	t.Fatalf("no column %q", name)
	return -1
}
