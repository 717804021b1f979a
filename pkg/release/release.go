// Package release describes the files of one app release, read from a local
// folder or from a GitHub-style .tar.gz, as a sorted list of paths with sizes
// and SHA-256 digests. It never writes outside a temporary folder of its own.
package release

import (
	"errors"
	"io"
	"os"
)

// versionFile is the name of the file, directly inside main_dir, whose
// trimmed content is the release version. It is not part of Tree.Files.
const versionFile = ".version"

// maxVersionFileSize is the largest .version file accepted, in bytes.
const maxVersionFileSize = 256

// File is one regular file of a release.
type File struct {
	// Path is slash-separated and relative to main_dir, for example "lib/util.py".
	Path string
	// Size is the content length in bytes.
	Size int64
	// SHA256 is the digest of the content.
	SHA256 [32]byte

	open func() (io.ReadCloser, error)
}

// Open returns a reader for the file content. The caller closes it.
func (f File) Open() (io.ReadCloser, error) {
	if f.open == nil {
		return nil, errors.New("release file " + f.Path + " has no content source")
	}
	return f.open()
}

// Tree is the content of a release: its version and its files sorted by Path.
type Tree struct {
	// Version is the trimmed content of main_dir/.version, or "" when there is none.
	Version string
	// Files are sorted by Path in byte order.
	Files []File

	// cacheDir is the temporary folder that holds file contents extracted
	// from a tarball, or "" for a tree read from a folder.
	cacheDir string
}

// TotalSize returns the sum of the file sizes in bytes.
func (t *Tree) TotalSize() int64 {
	var total int64
	for _, f := range t.Files {
		total += f.Size
	}
	return total
}

// Close removes the temporary copies of the file contents that FromTarball
// made. Files cannot be opened after Close. Close on a tree from FromDir
// does nothing.
func (t *Tree) Close() error {
	if t.cacheDir == "" {
		return nil
	}
	dir := t.cacheDir
	t.cacheDir = ""
	return os.RemoveAll(dir)
}
