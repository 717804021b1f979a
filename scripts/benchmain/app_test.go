package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateAppShape(t *testing.T) {
	tests := []struct {
		name      string
		seed      uint64
		size      int
		files     int
		wantBlobs int
	}{
		{name: "default", seed: 1, size: 100_000, files: 30, wantBlobs: 3},
		{name: "smallest", seed: 7, size: 2 * minFileSize, files: 2, wantBlobs: 1},
		{name: "many small files", seed: 3, size: 60 * minFileSize, files: 60, wantBlobs: 7},
		{name: "large", seed: 2, size: 1_000_000, files: 30, wantBlobs: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := generateApp(tt.seed, tt.size, tt.files)
			if len(a.files) != tt.files {
				t.Errorf("file count = %d, want %d", len(a.files), tt.files)
			}
			if a.size() != int64(tt.size) {
				t.Errorf("total size = %d, want %d", a.size(), tt.size)
			}
			if got := len(a.blobPaths()); got != tt.wantBlobs {
				t.Errorf("blob count = %d, want %d", got, tt.wantBlobs)
			}
			if a.files[a.changed].binary {
				t.Errorf("changed file %s is a blob, want a text file", a.files[a.changed].path)
			}
			paths := map[string]bool{}
			for _, f := range a.files {
				if paths[f.path] {
					t.Errorf("path %s appears twice", f.path)
				}
				paths[f.path] = true
				if len(f.data) < minFileSize {
					t.Errorf("%s has %d bytes, want at least %d", f.path, len(f.data), minFileSize)
				}
				if !f.binary && !strings.HasSuffix(string(f.data), "\n") {
					t.Errorf("text file %s does not end in a newline", f.path)
				}
			}
		})
	}
}

func TestGenerateAppDeterministic(t *testing.T) {
	a := generateApp(5, 20_000, 12)
	b := generateApp(5, 20_000, 12)
	c := generateApp(6, 20_000, 12)
	for i := range a.files {
		if !bytes.Equal(a.files[i].data, b.files[i].data) {
			t.Errorf("seed 5 gave two contents for %s", a.files[i].path)
		}
	}
	same := 0
	for i := range a.files {
		if bytes.Equal(a.files[i].data, c.files[i].data) {
			same++
		}
	}
	if same == len(a.files) {
		t.Error("seeds 5 and 6 gave the same app")
	}
}

func TestGenerateAppBlobsAreBinary(t *testing.T) {
	a := generateApp(1, 100_000, 30)
	for _, f := range a.files {
		invalidUTF8 := bytes.IndexFunc(f.data, func(r rune) bool { return r == 0xfffd }) >= 0
		if f.binary && !invalidUTF8 {
			t.Errorf("blob %s is valid UTF-8, want random bytes", f.path)
		}
		if !f.binary && invalidUTF8 {
			t.Errorf("text file %s has bytes that are not UTF-8", f.path)
		}
	}
}

func TestNextVersionChangesOneFile(t *testing.T) {
	first := generateApp(1, 100_000, 30)
	second := first.nextVersion()
	var changed []string
	for i := range first.files {
		if !bytes.Equal(first.files[i].data, second.files[i].data) {
			changed = append(changed, first.files[i].path)
		}
	}
	if len(changed) != 1 || changed[0] != first.files[first.changed].path {
		t.Errorf("changed files = %q, want only %s", changed, first.files[first.changed].path)
	}
}

func TestAppWrite(t *testing.T) {
	dir := t.TempDir()
	a := generateApp(1, 10_000, 10)
	if err := a.write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range a.files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.path)))
		if err != nil {
			t.Errorf("reading %s: %v", f.path, err)
			continue
		}
		if !bytes.Equal(got, f.data) {
			t.Errorf("%s on disk differs from the generated data", f.path)
		}
	}
}
