package release

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FromDir reads the release in dir, which is main_dir itself. Every regular
// file below dir becomes a File, except dir/.version, whose trimmed content
// becomes Tree.Version. A symlink, device, fifo or socket is an error that
// names its path. File contents are read again from dir on Open.
func FromDir(dir string) (*Tree, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("reading release folder: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("release folder %s is not a folder", dir)
	}
	// WalkDir does not descend into a root that is a symlink, so resolve it.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return nil, fmt.Errorf("reading release folder: %w", err)
	}

	tree := &Tree{}
	err = filepath.WalkDir(dir, func(full string, entry fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			return walkErr
		}
		return addDirEntry(tree, dir, full, entry)
	})
	if err != nil {
		return nil, err
	}
	if len(tree.Files) == 0 {
		return nil, fmt.Errorf("release folder %s contains no files", dir)
	}
	sort.Slice(tree.Files, func(i, j int) bool { return tree.Files[i].Path < tree.Files[j].Path })
	return tree, nil
}

// addDirEntry adds one walked entry of root to tree. It skips folders, hashes
// regular files, reads root/.version as the version and rejects other types.
func addDirEntry(tree *Tree, root, full string, entry fs.DirEntry) error {
	if full == root {
		return nil
	}
	rel, err := filepath.Rel(root, full)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)

	mode := entry.Type()
	switch {
	case mode.IsDir():
		return checkFileName(rel)
	case !mode.IsRegular():
		return fmt.Errorf("%s is a %s; a release may contain only regular files and folders", full, describeMode(mode))
	case rel == versionFile:
		version, err := readVersionFile(full)
		if err != nil {
			return err
		}
		tree.Version = version
		return nil
	}

	if err := checkFileName(rel); err != nil {
		return fmt.Errorf("%s: %w", full, err)
	}
	file, err := hashFile(full)
	if err != nil {
		return err
	}
	file.Path = rel
	tree.Files = append(tree.Files, file)
	return nil
}

// hashFile returns a File with the size and digest of the file at full and
// an open function that reopens it.
func hashFile(full string) (File, error) {
	f, err := os.Open(full)
	if err != nil {
		return File{}, fmt.Errorf("reading release file: %w", err)
	}
	defer f.Close()

	hash := sha256.New()
	size, err := io.Copy(hash, f)
	if err != nil {
		return File{}, fmt.Errorf("reading release file %s: %w", full, err)
	}
	file := File{Size: size, open: func() (io.ReadCloser, error) { return os.Open(full) }}
	copy(file.SHA256[:], hash.Sum(nil))
	return file, nil
}

// readVersionFile returns the trimmed content of a .version file.
func readVersionFile(full string) (string, error) {
	f, err := os.Open(full)
	if err != nil {
		return "", fmt.Errorf("reading version file: %w", err)
	}
	defer f.Close()
	return readVersion(f, full)
}

// readVersion returns the trimmed content of a .version file read from r,
// where name identifies the file in errors.
func readVersion(r io.Reader, name string) (string, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxVersionFileSize+1))
	if err != nil {
		return "", fmt.Errorf("reading version file %s: %w", name, err)
	}
	if len(data) > maxVersionFileSize {
		return "", fmt.Errorf("version file %s is larger than %d bytes; it must contain only the version", name, maxVersionFileSize)
	}
	version := strings.TrimSpace(string(data))
	if strings.ContainsAny(version, "\r\n\x00") {
		return "", fmt.Errorf("version file %s contains %q; it must contain one line", name, version)
	}
	return version, nil
}

// describeMode names the type of a non-regular file for error messages.
func describeMode(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSymlink != 0:
		return "symlink"
	case mode&fs.ModeCharDevice != 0:
		return "character device"
	case mode&fs.ModeDevice != 0:
		return "block device"
	case mode&fs.ModeNamedPipe != 0:
		return "fifo"
	case mode&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file (" + mode.String() + ")"
}
