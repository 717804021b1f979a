package githubtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"
)

// archiveTime is the modification time of every archive entry, so that
// archives are reproducible.
var archiveTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// commitSHA derives a stable fake commit id from the release's identity
// and content.
func commitSHA(owner, repo, tag string, files map[string][]byte) string {
	hash := sha1.New()
	hash.Write([]byte(owner + "/" + repo + "@" + tag + "\x00"))
	for _, name := range sortedNames(files) {
		hash.Write([]byte(name + "\x00"))
		hash.Write(files[name])
	}
	return hex.EncodeToString(hash.Sum(nil))
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// buildTarball returns a .tar.gz laid out like GitHub's source tarballs: a
// pax global header whose comment is the commit id, then every entry under
// the top folder "owner-repo-<sha7>/", with a folder entry before the files
// in it.
func buildTarball(owner, repo, sha string, files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)

	global := &tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": sha}}
	if err := tw.WriteHeader(global); err != nil {
		return nil, err
	}
	top := owner + "-" + repo + "-" + sha[:7] + "/"
	written := map[string]bool{}
	if err := writeDir(tw, top, written); err != nil {
		return nil, err
	}
	for _, name := range sortedNames(files) {
		if err := writeParents(tw, top, name, written); err != nil {
			return nil, err
		}
		header := &tar.Header{
			Name:     top + name,
			Typeflag: tar.TypeReg,
			Mode:     0o644,
			Size:     int64(len(files[name])),
			ModTime:  archiveTime,
		}
		if err := tw.WriteHeader(header); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeParents writes a folder entry for each parent of name not yet written.
func writeParents(tw *tar.Writer, top, name string, written map[string]bool) error {
	dir := path.Dir(name)
	if dir == "." || dir == "/" {
		return nil
	}
	if err := writeParents(tw, top, dir, written); err != nil {
		return err
	}
	return writeDir(tw, top+dir+"/", written)
}

func writeDir(tw *tar.Writer, name string, written map[string]bool) error {
	if written[name] {
		return nil
	}
	written[name] = true
	return tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: archiveTime})
}

// readDirFiles returns the regular files below dir keyed by slash-separated
// path relative to dir. Any other file type is an error.
func readDirFiles(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(full string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		if !entry.Type().IsRegular() {
			return &fs.PathError{Op: "read", Path: full, Err: fs.ErrInvalid}
		}
		rel, err := filepath.Rel(dir, full)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	return files, err
}
