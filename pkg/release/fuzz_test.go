package release

import (
	"archive/tar"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzFromTarball checks that no archive makes FromTarball panic or return
// a path that could leave main_dir, and that every returned file's content
// matches its Size and SHA256.
func FuzzFromTarball(f *testing.F) {
	seeds := [][]testEntry{
		{fileEntry("o-r-abc1234/project/main.py", "print(1)\n"), fileEntry("o-r-abc1234/project/lib/util.py", "x")},
		{dirEntry("project/"), fileEntry("project/main.py", "m"), fileEntry("project/.version", "1.0.0\n")},
		{fileEntry("project/main.py", "m"), fileEntry("../evil.py", "x")},
		{fileEntry("project/main.py", "m"), fileEntry(`project/..\..\x`, "x")},
		{fileEntry("project/main.py", "m"), {name: "project/l", typeflag: tar.TypeSymlink, linkname: "/etc"}},
		{fileEntry("project/O'zbek.txt", "q"), fileEntry("project/été.py", "e")},
	}
	for _, entries := range seeds {
		f.Add(gzipBytes(f, buildTar(f, entries)))
		f.Add(buildTar(f, entries))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.tar.gz")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, mainDir := range []string{"", "."} {
			tree, err := FromTarball(path, mainDir)
			if err != nil {
				continue
			}
			for _, file := range tree.Files {
				if !fs.ValidPath(file.Path) || file.Path == "." || strings.HasPrefix(file.Path, `\`) {
					t.Errorf("FromTarball returned invalid path %q", file.Path)
				}
				for _, segment := range strings.Split(file.Path, "/") {
					if hasDotDot(segment) {
						t.Errorf("FromTarball returned path %q with a \"..\" part", file.Path)
					}
				}
				if err := checkFileName(file.Path); err != nil {
					t.Errorf("FromTarball returned a rejected name: %v", err)
				}
			}
			readTree(t, tree)
			tree.Close()
		}
	})
}
