package release

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// writeFiles creates files under dir from a map of slash-separated paths to
// contents.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFromDirReadsFiles(t *testing.T) {
	tests := []struct {
		name        string
		files       map[string]string
		wantFiles   map[string]string
		wantVersion string
	}{
		{
			name:      "nested files",
			files:     map[string]string{"main.py": "m", "lib/util.py": "u", "config.json": "{}"},
			wantFiles: map[string]string{"main.py": "m", "lib/util.py": "u", "config.json": "{}"},
		},
		{
			name:        "version file",
			files:       map[string]string{".version": "v1.1.0\n", "main.py": "m"},
			wantFiles:   map[string]string{"main.py": "m"},
			wantVersion: "v1.1.0",
		},
		{
			name:      "nested version file is a plain file",
			files:     map[string]string{"lib/.version": "x", "main.py": "m"},
			wantFiles: map[string]string{"lib/.version": "x", "main.py": "m"},
		},
		{
			name:      "unusual names kept",
			files:     map[string]string{"O'zbek.txt": "q", `a"b.py`: "d", "with space.py": "s", `back\slash.py`: "b", "été/日本.py": "j"},
			wantFiles: map[string]string{"O'zbek.txt": "q", `a"b.py`: "d", "with space.py": "s", `back\slash.py`: "b", "été/日本.py": "j"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)

			tree, err := FromDir(dir)
			if err != nil {
				t.Fatalf("FromDir: %v", err)
			}
			if got := readTree(t, tree); !reflect.DeepEqual(got, tt.wantFiles) {
				t.Errorf("files = %q, want %q", got, tt.wantFiles)
			}
			if tree.Version != tt.wantVersion {
				t.Errorf("Version = %q, want %q", tree.Version, tt.wantVersion)
			}
			if paths := treePaths(tree); !sortedStrings(paths) {
				t.Errorf("paths %q are not sorted", paths)
			}
		})
	}
}

func TestFromDirRejectsSpecialFiles(t *testing.T) {
	tests := []struct {
		name    string
		create  func(t *testing.T, dir string) string // returns the special file's path
		wantErr string
	}{
		{
			name: "symlink",
			create: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "link.py")
				if err := os.Symlink("main.py", path); err != nil {
					t.Fatal(err)
				}
				return path
			},
			wantErr: "is a symlink",
		},
		{
			name: "fifo",
			create: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "lib", "pipe")
				if err := syscall.Mkfifo(path, 0o644); err != nil {
					t.Skipf("mkfifo not available: %v", err)
				}
				return path
			},
			wantErr: "is a fifo",
		},
		{
			name: "socket",
			create: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "s.sock")
				listener, err := net.Listen("unix", path)
				if err != nil {
					t.Skipf("unix sockets not available: %v", err)
				}
				t.Cleanup(func() { listener.Close() })
				return path
			},
			wantErr: "is a socket",
		},
		{
			name: "newline in name",
			create: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "a\nb.py")
				writeFiles(t, dir, map[string]string{"a\nb.py": "x"})
				return path
			},
			wantErr: "contains a newline",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"main.py": "m", "lib/util.py": "u"})
			special := tt.create(t, dir)

			tree, err := FromDir(dir)
			if err == nil {
				t.Fatalf("FromDir returned files %q, want an error", treePaths(tree))
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
			if tt.name != "newline in name" && !strings.Contains(err.Error(), special) {
				t.Errorf("error = %q, want it to name %s", err, special)
			}
		})
	}
}

func TestFromDirEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{".version": "1.0.0"})
	if _, err := FromDir(dir); err == nil || !strings.Contains(err.Error(), "contains no files") {
		t.Errorf("FromDir error = %v, want one containing %q", err, "contains no files")
	}
}

func TestFromDirMissingFolder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := FromDir(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("FromDir error = %v, want one naming %s", err, missing)
	}
}

func TestFromDirFollowsRootSymlink(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, filepath.Join(dir, "real"), map[string]string{"main.py": "m"})
	link := filepath.Join(dir, "project")
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	tree, err := FromDir(link)
	if err != nil {
		t.Fatalf("FromDir: %v", err)
	}
	if got := treePaths(tree); !reflect.DeepEqual(got, []string{"main.py"}) {
		t.Errorf("paths = %q, want [main.py]", got)
	}
}
