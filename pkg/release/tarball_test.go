package release

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFromTarballRejectsUnsafeEntries(t *testing.T) {
	safe := fileEntry("project/main.py", "print(1)\n")
	tests := []struct {
		name    string
		entries []testEntry
		wantErr string
	}{
		{name: "parent escape", entries: []testEntry{safe, fileEntry("../evil.py", "x")}, wantErr: `"../evil.py"`},
		{name: "absolute path", entries: []testEntry{safe, fileEntry("/etc/x", "x")}, wantErr: `"/etc/x" has an absolute path`},
		{name: "escape from main dir", entries: []testEntry{safe, fileEntry("project/../../x", "x")}, wantErr: `"project/../../x" has a ".." path segment`},
		{name: "backslash escape", entries: []testEntry{safe, fileEntry(`project/..\..\x`, "x")}, wantErr: `".." path segment`},
		{name: "backslash absolute", entries: []testEntry{safe, fileEntry(`\etc\x`, "x")}, wantErr: "absolute path"},
		{name: "parent escape outside main dir", entries: []testEntry{safe, fileEntry("docs/../../x", "x")}, wantErr: `"docs/../../x"`},
		{name: "symlink", entries: []testEntry{safe, {name: "project/link.py", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"}}, wantErr: `"project/link.py" is a symlink`},
		{name: "hard link", entries: []testEntry{safe, {name: "project/hard.py", typeflag: tar.TypeLink, linkname: "project/main.py"}}, wantErr: `"project/hard.py" is a hard link`},
		{name: "character device", entries: []testEntry{safe, {name: "project/tty", typeflag: tar.TypeChar}}, wantErr: `"project/tty" is a character device`},
		{name: "block device", entries: []testEntry{safe, {name: "project/sda", typeflag: tar.TypeBlock}}, wantErr: `"project/sda" is a block device`},
		{name: "fifo", entries: []testEntry{safe, {name: "project/pipe", typeflag: tar.TypeFifo}}, wantErr: `"project/pipe" is a fifo`},
		{name: "main dir symlink", entries: []testEntry{{name: "project", typeflag: tar.TypeSymlink, linkname: "/etc"}, safe}, wantErr: `"project" is a symlink`},
		{name: "duplicate file", entries: []testEntry{safe, fileEntry("project/main.py", "x")}, wantErr: `duplicates the path main.py`},
		{name: "duplicate after cleaning", entries: []testEntry{safe, fileEntry("./project//main.py", "x")}, wantErr: `duplicates the path main.py`},
		{name: "file used as folder", entries: []testEntry{fileEntry("project/lib", "x"), fileEntry("project/lib/util.py", "y")}, wantErr: `inside lib, which is a file`},
		{name: "folder then file", entries: []testEntry{fileEntry("project/lib/util.py", "y"), fileEntry("project/lib", "x")}, wantErr: `duplicates the path lib`},
		{name: "newline in name", entries: []testEntry{safe, fileEntry("project/a\nb.py", "x")}, wantErr: "contains a newline"},
		{name: "invalid utf-8 name", entries: []testEntry{safe, fileEntry("project/\xff\xfe.py", "x")}, wantErr: "not valid UTF-8"},
		{name: "missing main dir", entries: []testEntry{fileEntry("src/main.py", "x"), fileEntry("README.md", "x")}, wantErr: "archive has no folder project/; use --main-dir"},
		{name: "missing main dir under top folder", entries: []testEntry{fileEntry("o-r-abc1234/src/main.py", "x")}, wantErr: "archive has no folder project/; use --main-dir"},
		{name: "empty main dir", entries: []testEntry{dirEntry("project/"), fileEntry("README.md", "x")}, wantErr: "folder project/ in the archive contains no files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := FromTarball(writeTarball(t, tt.entries), "")
			if err == nil {
				tree.Close()
				t.Fatalf("FromTarball returned files %q, want error containing %q", treePaths(tree), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestFromTarballSelectsMainDir(t *testing.T) {
	tests := []struct {
		name        string
		entries     []testEntry
		mainDir     string
		wantFiles   map[string]string
		wantVersion string
	}{
		{
			name: "github top folder",
			entries: []testEntry{
				{name: "pax_global_header", typeflag: tar.TypeXGlobalHeader, body: "0123456789abcdef0123456789abcdef01234567"},
				dirEntry("octo-app-abc1234/"),
				fileEntry("octo-app-abc1234/README.md", "readme"),
				{name: "octo-app-abc1234/docs-link", typeflag: tar.TypeSymlink, linkname: "/etc"},
				dirEntry("octo-app-abc1234/project/"),
				fileEntry("octo-app-abc1234/project/main.py", "print('v1')\n"),
				dirEntry("octo-app-abc1234/project/lib/"),
				fileEntry("octo-app-abc1234/project/lib/util.py", "X = 1\n"),
			},
			wantFiles: map[string]string{"main.py": "print('v1')\n", "lib/util.py": "X = 1\n"},
		},
		{
			name:      "plain tarball of main dir",
			entries:   []testEntry{dirEntry("project/"), fileEntry("project/main.py", "a"), fileEntry("project/config.json", "{}")},
			wantFiles: map[string]string{"main.py": "a", "config.json": "{}"},
		},
		{
			name:      "dot slash prefix",
			entries:   []testEntry{dirEntry("./"), dirEntry("./project/"), fileEntry("./project/main.py", "a")},
			wantFiles: map[string]string{"main.py": "a"},
		},
		{
			name:      "custom main dir",
			entries:   []testEntry{fileEntry("o-r-1/firmware/app/boot.py", "b"), fileEntry("o-r-1/firmware/tools/x.py", "t")},
			mainDir:   "firmware/app",
			wantFiles: map[string]string{"boot.py": "b"},
		},
		{
			name:      "whole repository",
			entries:   []testEntry{fileEntry("o-r-1/main.py", "m"), fileEntry("o-r-1/lib/util.py", "u")},
			mainDir:   ".",
			wantFiles: map[string]string{"main.py": "m", "lib/util.py": "u"},
		},
		{
			name:        "version file",
			entries:     []testEntry{fileEntry("o-r-1/project/.version", " 1.2.3\n"), fileEntry("o-r-1/project/main.py", "m")},
			wantFiles:   map[string]string{"main.py": "m"},
			wantVersion: "1.2.3",
		},
		{
			name:      "nested version file is a plain file",
			entries:   []testEntry{fileEntry("project/lib/.version", "9"), fileEntry("project/main.py", "m")},
			wantFiles: map[string]string{"lib/.version": "9", "main.py": "m"},
		},
		{
			name: "unusual names kept",
			entries: []testEntry{
				fileEntry("project/O'zbek.txt", "q"),
				fileEntry(`project/a"b.py`, "d"),
				fileEntry("project/with space.py", "s"),
				fileEntry(`project/back\slash.py`, "b"),
				fileEntry("project/données/été.py", "e"),
				fileEntry("project/日本.py", "j"),
			},
			wantFiles: map[string]string{
				"O'zbek.txt": "q", `a"b.py`: "d", "with space.py": "s",
				`back\slash.py`: "b", "données/été.py": "e", "日本.py": "j",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := FromTarball(writeTarball(t, tt.entries), tt.mainDir)
			if err != nil {
				t.Fatalf("FromTarball: %v", err)
			}
			defer tree.Close()

			if got := readTree(t, tree); !reflect.DeepEqual(got, tt.wantFiles) {
				t.Errorf("files = %q, want %q", got, tt.wantFiles)
			}
			if tree.Version != tt.wantVersion {
				t.Errorf("Version = %q, want %q", tree.Version, tt.wantVersion)
			}
			paths := treePaths(tree)
			if !sortedStrings(paths) {
				t.Errorf("paths %q are not sorted", paths)
			}
		})
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

func TestFromTarballPlainTar(t *testing.T) {
	path := filepath.Join(t.TempDir(), "release.tar")
	data := buildTar(t, []testEntry{fileEntry("project/main.py", "m")})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tree, err := FromTarball(path, "project")
	if err != nil {
		t.Fatalf("FromTarball: %v", err)
	}
	defer tree.Close()
	if got := treePaths(tree); !reflect.DeepEqual(got, []string{"main.py"}) {
		t.Errorf("paths = %q, want [main.py]", got)
	}
}

func TestFromTarballLargeRelease(t *testing.T) {
	big := make([]byte, 10<<20)
	rand.New(rand.NewSource(1)).Read(big)
	small := bytes.Repeat([]byte("x = 1\n"), 40<<10/6)
	tree, err := FromTarball(writeTarball(t, []testEntry{
		fileEntry("o-r-1/project/big.bin", string(big)),
		fileEntry("o-r-1/project/small.py", string(small)),
	}), "")
	if err != nil {
		t.Fatalf("FromTarball: %v", err)
	}
	defer tree.Close()

	if got, want := tree.TotalSize(), int64(len(big)+len(small)); got != want {
		t.Errorf("TotalSize = %d, want %d", got, want)
	}
	if tree.Files[0].SHA256 != sha256.Sum256(big) {
		t.Errorf("big.bin digest does not match")
	}
	if tree.Files[1].SHA256 != sha256.Sum256(small) {
		t.Errorf("small.py digest does not match")
	}
}

func TestTreeCloseRemovesCache(t *testing.T) {
	tree, err := FromTarball(writeTarball(t, []testEntry{fileEntry("project/main.py", "m")}), "")
	if err != nil {
		t.Fatalf("FromTarball: %v", err)
	}
	cacheDir := tree.cacheDir
	if err := tree.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(cacheDir); !os.IsNotExist(err) {
		t.Errorf("cache folder %s still exists after Close (stat error %v)", cacheDir, err)
	}
	if r, err := tree.Files[0].Open(); err == nil {
		r.Close()
		t.Errorf("Open after Close succeeded, want an error")
	}
}

func TestFromTarballInvalidMainDir(t *testing.T) {
	path := writeTarball(t, []testEntry{fileEntry("project/main.py", "m")})
	for _, mainDir := range []string{"../project", "/project", `..\x`} {
		if tree, err := FromTarball(path, mainDir); err == nil {
			tree.Close()
			t.Errorf("FromTarball(main_dir %q) succeeded, want an error", mainDir)
		}
	}
}
