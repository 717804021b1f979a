package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		wantProfiles []string
		wantModes    []string
		wantSize     int
		wantErr      string
	}{
		{name: "defaults", wantProfiles: []string{"1.27", "1.13"}, wantModes: []string{"binary", "base64"}, wantSize: 100_000},
		{name: "lists with spaces", args: []string{"--profiles", "1.13, ", "--modes", " base64,auto"},
			wantProfiles: []string{"1.13"}, wantModes: []string{"base64", "auto"}, wantSize: 100_000},
		{name: "single dash size", args: []string{"-size", "5000"},
			wantProfiles: []string{"1.27", "1.13"}, wantModes: []string{"binary", "base64"}, wantSize: 5000},
		{name: "unknown profile", args: []string{"--profiles", "1.20"}, wantErr: `invalid --profiles entry "1.20"`},
		{name: "empty profiles", args: []string{"--profiles", ","}, wantErr: "invalid --profiles"},
		{name: "unknown mode", args: []string{"--modes", "hex"}, wantErr: `invalid --modes entry "hex"`},
		{name: "too few files", args: []string{"--files", "1"}, wantErr: "invalid --files 1"},
		{name: "size too small", args: []string{"--size", "100"}, wantErr: "invalid --size 100"},
		{name: "positional argument", args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{name: "unknown flag", args: []string{"--port", "x"}, wantErr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseConfig(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q) error = %v", tt.args, err)
			}
			if !slices.Equal(cfg.profiles, tt.wantProfiles) {
				t.Errorf("profiles = %q, want %q", cfg.profiles, tt.wantProfiles)
			}
			if !slices.Equal(cfg.modes, tt.wantModes) {
				t.Errorf("modes = %q, want %q", cfg.modes, tt.wantModes)
			}
			if cfg.size != tt.wantSize {
				t.Errorf("size = %d, want %d", cfg.size, tt.wantSize)
			}
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig(--help) error = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: scripts/bench", "-profiles", "-modes", "-seed", "-size"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}
