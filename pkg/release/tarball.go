package release

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultMainDir is the folder of a repository that holds the app when no
// main_dir is given.
const DefaultMainDir = "project"

// MaxTreeSize is the largest total size, in bytes, of the files under
// main_dir that FromTarball extracts. It is far above the flash size of any
// MicroPython board and stops a small archive that expands to fill the disk,
// such as a sparse entry with a huge logical size.
const MaxTreeSize = 1 << 30

// archiveEntry is the header of one tar entry as read in the first pass.
type archiveEntry struct {
	name     string // name as stored in the archive, for error messages
	segments []string
	typeflag byte
	size     int64
	sparse   bool
}

// selectedFile is a regular file under main_dir, found in the first pass.
type selectedFile struct {
	index int    // position of the entry in the archive
	path  string // slash-separated, relative to main_dir
}

// FromTarball reads the release under mainDir ("" means DefaultMainDir and
// "." the whole repository) from the .tar.gz or .tar at path.
//
// The archive is read twice and never held in memory. The first pass checks
// every header and rejects the archive, naming the entry, when any name is
// absolute or has a ".." segment, or when an entry under mainDir is a symlink,
// hard link, device, fifo or other non-regular file, a duplicate, or a name
// that checkFileName rejects. Entries outside mainDir may be of any type.
// When every entry lies under one top folder, as in GitHub's tarballs
// ("owner-repo-sha/"), that folder is stripped first, unless mainDir is
// found at the archive root. The second pass copies the selected files into a temporary
// folder, which the caller removes with Tree.Close. A mainDir/.version file
// sets Tree.Version and is not part of Tree.Files.
func FromTarball(path, mainDir string) (*Tree, error) {
	mainSegments, err := parseMainDir(mainDir)
	if err != nil {
		return nil, err
	}
	entries, err := scanArchive(path)
	if err != nil {
		return nil, err
	}
	selected, versionIndex, err := selectFiles(entries, mainSegments)
	if err != nil {
		return nil, err
	}
	return extractFiles(path, entries, selected, versionIndex)
}

// openArchive opens a .tar.gz or plain .tar and returns a tar reader and a
// function that closes the underlying file.
func openArchive(path string) (*tar.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening release archive: %w", err)
	}
	buffered := bufio.NewReader(f)
	magic, _ := buffered.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(buffered)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("reading release archive %s: %w", path, err)
		}
		return tar.NewReader(gz), f.Close, nil
	}
	return tar.NewReader(buffered), f.Close, nil
}

// nextHeader returns the next header that describes a file system entry,
// skipping pax global headers (GitHub stores the commit id in one). It
// returns io.EOF at the end of the archive.
func nextHeader(tr *tar.Reader, path string) (*tar.Header, error) {
	for {
		header, err := tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) {
			// The header is still valid, and splitEntryName applies the rules.
			err = nil
		}
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, fmt.Errorf("reading release archive %s: %w", path, err)
		}
		if header.Typeflag != tar.TypeXGlobalHeader {
			return header, nil
		}
	}
}

// scanArchive reads every header of the archive and rejects unsafe names.
func scanArchive(path string) ([]archiveEntry, error) {
	tr, closeFile, err := openArchive(path)
	if err != nil {
		return nil, err
	}
	defer closeFile()

	var entries []archiveEntry
	for {
		header, err := nextHeader(tr, path)
		if err == io.EOF {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		segments, err := splitEntryName(header.Name)
		if err != nil {
			return nil, err
		}
		entries = append(entries, archiveEntry{
			name:     header.Name,
			segments: segments,
			typeflag: header.Typeflag,
			size:     header.Size,
			sparse:   isSparse(header),
		})
	}
}

// isSparse reports whether header describes a GNU sparse file stored in PAX
// format, which tar.Reader reports as TypeReg.
func isSparse(header *tar.Header) bool {
	for key := range header.PAXRecords {
		if strings.HasPrefix(key, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// selectFiles checks the entries under mainDir and returns the regular files
// to extract and the index of mainDir/.version, or -1 when there is none.
func selectFiles(entries []archiveEntry, mainDir []string) ([]selectedFile, int, error) {
	strip := 0
	wholeArchive := len(mainDir) == 0
	if (wholeArchive || !containsDir(entries, mainDir, 0)) && hasCommonTopFolder(entries) {
		strip = 1
	}
	if !containsDir(entries, mainDir, strip) {
		return nil, -1, missingMainDirError(mainDir)
	}

	prefixLen := strip + len(mainDir)
	kinds := map[string]bool{} // path under main_dir -> is a folder
	var selected []selectedFile
	var totalSize int64
	versionIndex := -1
	for i, entry := range entries {
		if len(entry.segments) < strip || !hasPrefix(entry.segments[strip:], mainDir) {
			continue
		}
		rel := strings.Join(entry.segments[prefixLen:], "/")
		isDir, err := checkEntry(entry, rel)
		if err != nil {
			return nil, -1, err
		}
		if rel == "" {
			continue // main_dir itself
		}
		if err := recordPath(kinds, entry, rel, isDir); err != nil {
			return nil, -1, err
		}
		switch {
		case isDir:
		case rel == versionFile:
			versionIndex = i
		default:
			if entry.size > MaxTreeSize-totalSize {
				return nil, -1, fmt.Errorf("files in folder %s/ of the archive exceed %d bytes in total", strings.Join(mainDir, "/"), int64(MaxTreeSize))
			}
			selected = append(selected, selectedFile{index: i, path: rel})
			totalSize += entry.size
		}
	}
	if len(selected) == 0 {
		return nil, -1, fmt.Errorf("folder %s/ in the archive contains no files", strings.Join(mainDir, "/"))
	}
	return selected, versionIndex, nil
}

// containsDir reports whether some entry, after dropping strip leading
// segments, lies under dir or is dir.
func containsDir(entries []archiveEntry, dir []string, strip int) bool {
	for _, entry := range entries {
		if len(entry.segments) >= strip && hasPrefix(entry.segments[strip:], dir) {
			return true
		}
	}
	return false
}

// hasCommonTopFolder reports whether all entries lie in one top folder,
// which must have at least one entry below it.
func hasCommonTopFolder(entries []archiveEntry) bool {
	top, nested := "", false
	for _, entry := range entries {
		if len(entry.segments) == 0 {
			continue
		}
		if top == "" {
			top = entry.segments[0]
		}
		if entry.segments[0] != top {
			return false
		}
		if len(entry.segments) > 1 {
			nested = true
		}
	}
	return nested
}

func missingMainDirError(mainDir []string) error {
	if len(mainDir) == 0 {
		return errors.New("archive contains no entries")
	}
	return fmt.Errorf("archive has no folder %s/; use --main-dir", strings.Join(mainDir, "/"))
}

// checkEntry rejects an entry under main_dir that is not a regular file or
// folder, or whose name cannot be a board file name. It reports whether the
// entry is a folder.
func checkEntry(entry archiveEntry, rel string) (bool, error) {
	var kind string
	switch entry.typeflag {
	case tar.TypeDir:
		return true, checkFileName(rel)
	case tar.TypeReg: // tar.Reader reports the legacy TypeRegA as TypeReg
		if entry.sparse {
			return false, fmt.Errorf("archive entry %q is a sparse file; a release may contain only regular files and folders", entry.name)
		}
		if rel == "" {
			return false, fmt.Errorf("archive entry %q is a file where main_dir should be a folder", entry.name)
		}
		if err := checkFileName(rel); err != nil {
			return false, fmt.Errorf("archive entry %q: %w", entry.name, err)
		}
		return false, nil
	case tar.TypeSymlink:
		kind = "a symlink"
	case tar.TypeLink:
		kind = "a hard link"
	case tar.TypeChar:
		kind = "a character device"
	case tar.TypeBlock:
		kind = "a block device"
	case tar.TypeFifo:
		kind = "a fifo"
	default:
		kind = fmt.Sprintf("of unsupported type %q", entry.typeflag)
	}
	return false, fmt.Errorf("archive entry %q is %s; a release may contain only regular files and folders", entry.name, kind)
}

// recordPath adds rel to kinds and rejects a duplicate path or a file that
// is also used as a folder.
func recordPath(kinds map[string]bool, entry archiveEntry, rel string, isDir bool) error {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], "/")
		if parentIsDir, seen := kinds[parent]; seen && !parentIsDir {
			return fmt.Errorf("archive entry %q is inside %s, which is a file", entry.name, parent)
		}
		kinds[parent] = true
	}
	if wasDir, seen := kinds[rel]; seen && !(wasDir && isDir) {
		return fmt.Errorf("archive entry %q duplicates the path %s", entry.name, rel)
	}
	kinds[rel] = isDir
	return nil
}

// extractFiles copies the selected files into a new temporary folder,
// hashing them on the way, and reads the version file.
func extractFiles(path string, entries []archiveEntry, selected []selectedFile, versionIndex int) (*Tree, error) {
	cacheDir, err := os.MkdirTemp("", "otaflash-release-*")
	if err != nil {
		return nil, fmt.Errorf("creating temporary folder for release files: %w", err)
	}
	tree := &Tree{cacheDir: cacheDir}
	if err := copySelected(tree, path, entries, selected, versionIndex); err != nil {
		tree.Close()
		return nil, err
	}
	sort.Slice(tree.Files, func(i, j int) bool { return tree.Files[i].Path < tree.Files[j].Path })
	return tree, nil
}

func copySelected(tree *Tree, path string, entries []archiveEntry, selected []selectedFile, versionIndex int) error {
	tr, closeFile, err := openArchive(path)
	if err != nil {
		return err
	}
	defer closeFile()

	next := 0 // index into selected
	for i := 0; i < len(entries) && (next < len(selected) || versionIndex >= i); i++ {
		header, err := nextHeader(tr, path)
		if err == io.EOF {
			return fmt.Errorf("release archive %s changed while it was read: it ended early", path)
		}
		if err != nil {
			return err
		}
		if header.Name != entries[i].name || header.Typeflag != entries[i].typeflag {
			return fmt.Errorf("release archive %s changed while it was read: entry %q differs", path, header.Name)
		}
		if i == versionIndex {
			if tree.Version, err = readVersion(tr, header.Name); err != nil {
				return err
			}
			continue
		}
		if next < len(selected) && selected[next].index == i {
			file, err := cacheEntry(tr, tree.cacheDir, next, header.Name)
			if err != nil {
				return err
			}
			file.Path = selected[next].path
			tree.Files = append(tree.Files, file)
			next++
		}
	}
	return nil
}

// cacheEntry copies the current entry of tr to cacheDir under a name made
// from n alone, so no archive name reaches the file system.
func cacheEntry(tr io.Reader, cacheDir string, n int, entryName string) (File, error) {
	cached := filepath.Join(cacheDir, fmt.Sprintf("%06d", n))
	out, err := os.OpenFile(cached, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return File{}, fmt.Errorf("caching release file: %w", err)
	}
	hash := sha256.New()
	size, copyErr := io.Copy(io.MultiWriter(out, hash), tr)
	closeErr := out.Close()
	if copyErr != nil {
		return File{}, fmt.Errorf("reading archive entry %q: %w", entryName, copyErr)
	}
	if closeErr != nil {
		return File{}, fmt.Errorf("caching release file: %w", closeErr)
	}

	file := File{Size: size, open: func() (io.ReadCloser, error) { return os.Open(cached) }}
	copy(file.SHA256[:], hash.Sum(nil))
	return file, nil
}
