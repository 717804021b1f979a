package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// testEntry is one entry of an archive built by a test.
type testEntry struct {
	name     string
	typeflag byte // tar.TypeReg when zero
	body     string
	linkname string
}

func fileEntry(name, body string) testEntry { return testEntry{name: name, body: body} }

func dirEntry(name string) testEntry { return testEntry{name: name, typeflag: tar.TypeDir} }

// buildTar returns an uncompressed tar archive of entries, in GNU format so
// that names which are not valid UTF-8 can be stored.
func buildTar(t testing.TB, entries []testEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, entry := range entries {
		if entry.typeflag == tar.TypeXGlobalHeader {
			writeGlobalHeader(t, tw, entry.body)
			continue
		}
		header := &tar.Header{
			Name:     entry.name,
			Typeflag: entry.typeflag,
			Linkname: entry.linkname,
			Mode:     0o644,
			Format:   tar.FormatGNU,
		}
		if header.Typeflag == 0 {
			header.Typeflag = tar.TypeReg
		}
		if header.Typeflag == tar.TypeReg {
			header.Size = int64(len(entry.body))
		}
		if err := tw.WriteHeader(header); err != nil {
			t.Fatalf("writing tar header %q: %v", entry.name, err)
		}
		if header.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, entry.body); err != nil {
				t.Fatalf("writing tar body %q: %v", entry.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("closing tar writer: %v", err)
	}
	return buf.Bytes()
}

// writeGlobalHeader writes a pax global header with a comment, as GitHub
// does with the commit id.
func writeGlobalHeader(t testing.TB, tw *tar.Writer, comment string) {
	t.Helper()
	header := &tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": comment}}
	if err := tw.WriteHeader(header); err != nil {
		t.Fatalf("writing pax global header: %v", err)
	}
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("gzip close: %v", err)
	}
	return buf.Bytes()
}

// writeTarball writes entries as a .tar.gz in a temporary folder and
// returns its path.
func writeTarball(t testing.TB, entries []testEntry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "release.tar.gz")
	if err := os.WriteFile(path, gzipBytes(t, buildTar(t, entries)), 0o644); err != nil {
		t.Fatalf("writing tarball: %v", err)
	}
	return path
}

// readTree returns the content of every file of tree by path, and checks
// that each file's Size and SHA256 match the content that Open returns.
func readTree(t *testing.T, tree *Tree) map[string]string {
	t.Helper()
	contents := map[string]string{}
	for _, f := range tree.Files {
		r, err := f.Open()
		if err != nil {
			t.Fatalf("Open(%q): %v", f.Path, err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("reading %q: %v", f.Path, err)
		}
		if int64(len(data)) != f.Size {
			t.Errorf("%q: Size = %d, content has %d bytes", f.Path, f.Size, len(data))
		}
		if sha256.Sum256(data) != f.SHA256 {
			t.Errorf("%q: SHA256 does not match the content", f.Path)
		}
		contents[f.Path] = string(data)
	}
	return contents
}

func treePaths(tree *Tree) []string {
	paths := make([]string, 0, len(tree.Files))
	for _, f := range tree.Files {
		paths = append(paths, f.Path)
	}
	return paths
}
