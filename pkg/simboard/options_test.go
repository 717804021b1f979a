package simboard

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOptionsDefaults(t *testing.T) {
	o := Options{FlashDir: "/flash"}.withDefaults()
	if err := o.validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{name: "firmware", got: o.Firmware, want: "1.27"},
		{name: "baud", got: o.Baud, want: 115200},
		{name: "latency", got: o.Latency, want: 2 * time.Millisecond},
		{name: "rx buffer", got: o.RxBuffer, want: 256},
		{name: "heap", got: o.Heap, want: 30720},
		{name: "cut downtime", got: o.CutDowntime, want: 100 * time.Millisecond},
		{name: "byte time", got: o.byteTime(), want: 86805 * time.Nanosecond},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "valid", opts: Options{FlashDir: "/f", Firmware: "1.13", DropRate: 1, CorruptRate: 0.5}},
		{name: "missing flash", opts: Options{}, wantErr: "missing flash folder"},
		{name: "firmware", opts: Options{FlashDir: "/f", Firmware: "1.20"}, wantErr: `invalid firmware "1.20"`},
		{name: "negative baud", opts: Options{FlashDir: "/f", Baud: -9600}, wantErr: "invalid baud rate -9600"},
		{name: "negative heap", opts: Options{FlashDir: "/f", Heap: -1}, wantErr: "invalid heap size -1"},
		{name: "drop rate", opts: Options{FlashDir: "/f", DropRate: 1.01}, wantErr: "invalid drop rate 1.01"},
		{name: "corrupt rate", opts: Options{FlashDir: "/f", CorruptRate: -0.5}, wantErr: "invalid corrupt rate -0.5"},
	}
	for _, tt := range tests {
		err := tt.opts.withDefaults().validate()
		if tt.wantErr == "" && err != nil {
			t.Errorf("%s: validate = %v, want nil", tt.name, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: validate = %v, want an error containing %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestNodeArgsRoundCommandCost(t *testing.T) {
	o := Options{FlashDir: "/f", CommandCost: 2600 * time.Microsecond}.withDefaults()
	args := strings.Join(o.nodeArgs(), " ")
	if !strings.Contains(args, "--command-cost-ms 3 ") {
		t.Errorf("args = %q, want --command-cost-ms 3 for 2.6 ms", args)
	}
}

func TestFaultsDependOnBytesNotBatches(t *testing.T) {
	data := []byte(strings.Repeat("0123456789", 200))
	whole := newFaults(5, 1, 0.1, 0.1).apply(data)

	split := newFaults(5, 1, 0.1, 0.1)
	var parts []byte
	for i := 0; i < len(data); i += 7 {
		parts = append(parts, split.apply(data[i:min(i+7, len(data))])...)
	}
	if string(whole) != string(parts) {
		t.Errorf("faults differ between one batch and batches of 7")
	}
	if string(whole) == string(data) {
		t.Errorf("no faults at 10%%")
	}
}

func TestFindSimDir(t *testing.T) {
	repoSim, err := filepath.Abs(filepath.Join("..", "..", "sim"))
	if err != nil {
		t.Fatal(err)
	}
	fake, err := filepath.Abs(filepath.Join("testdata", "fakesim"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     string
		dir     string
		want    string
		wantErr string
	}{
		{name: "walks up to the repository", want: repoSim},
		{name: "environment", env: filepath.Join("testdata", "fakesim"), want: fake},
		{name: "option wins", env: "/nonexistent", dir: filepath.Join("testdata", "fakesim"), want: fake},
		{name: "no script", dir: "testdata", wantErr: "simulated board script not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(SimDirEnv, tt.env)
			got, err := findSimDir(tt.dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("findSimDir = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("findSimDir = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
