package release

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// checkFileName rejects a release path that cannot be sent to a board as a
// file name: one that is not valid UTF-8 or contains NUL or a newline. Any
// other byte sequence, such as quotes, spaces, backslashes or non-ASCII
// letters, is kept as it is.
func checkFileName(p string) error {
	switch {
	case !utf8.ValidString(p):
		return fmt.Errorf("file name %q is not valid UTF-8; rename the file", p)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("file name %q contains a NUL byte; rename the file", p)
	case strings.ContainsRune(p, '\n'):
		return fmt.Errorf("file name %q contains a newline; rename the file", p)
	}
	return nil
}

// splitEntryName splits an archive entry name into its path segments,
// dropping empty and "." segments, so "./project//main.py" becomes
// ["project", "main.py"]. It rejects a name that is absolute or has a ".."
// segment, where a backslash also counts as a separator because some
// extractors and file systems treat it as one ("..\evil.py").
func splitEntryName(name string) ([]string, error) {
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) {
		return nil, fmt.Errorf("archive entry %q has an absolute path", name)
	}
	var segments []string
	for _, segment := range strings.Split(name, "/") {
		if segment == "" || segment == "." {
			continue
		}
		if hasDotDot(segment) {
			return nil, fmt.Errorf("archive entry %q has a \"..\" path segment", name)
		}
		segments = append(segments, segment)
	}
	return segments, nil
}

// hasDotDot reports whether a slash-free segment is ".." or has a ".." part
// when split at backslashes.
func hasDotDot(segment string) bool {
	for _, part := range strings.Split(segment, `\`) {
		if part == ".." {
			return true
		}
	}
	return false
}

// parseMainDir splits the main_dir option into path segments. "" selects
// the default "project", and "." selects the whole archive.
func parseMainDir(mainDir string) ([]string, error) {
	if mainDir == "" {
		mainDir = DefaultMainDir
	}
	segments, err := splitEntryName(mainDir)
	if err != nil {
		return nil, fmt.Errorf("invalid main_dir %q: use a relative path inside the repository without \"..\"", mainDir)
	}
	return segments, nil
}

// hasPrefix reports whether segments start with prefix.
func hasPrefix(segments, prefix []string) bool {
	if len(segments) < len(prefix) {
		return false
	}
	for i := range prefix {
		if segments[i] != prefix[i] {
			return false
		}
	}
	return true
}
