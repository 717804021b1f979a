package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/otaflash/otaflash/pkg/github"
	"github.com/otaflash/otaflash/pkg/release"
)

// releaseFlags choose where a release comes from.
type releaseFlags struct {
	repo     string
	version  string
	pre      bool
	source   string
	token    string
	apiURL   string
	cacheDir string
}

func (f *releaseFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", "", "GitHub repository of the app, as owner/name")
	fl.StringVar(&f.version, "version", "", `release to install: a version such as 1.2.0 or v1.2.0, or a semver constraint such as "^1.2" (default: the newest stable release); with --source, the version of the local release`)
	fl.BoolVar(&f.pre, "pre", false, "consider prereleases too")
	fl.StringVar(&f.source, "source", "", "install a local release instead: a folder (the repo or its main-dir) or a .tar.gz")
	fl.StringVar(&f.token, "token", "", "GitHub token (default $GITHUB_TOKEN); never printed")
	fl.StringVar(&f.apiURL, "api-url", "", "GitHub API URL, for GitHub Enterprise such as https://HOST/api/v3/ (default https://api.github.com/)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "folder for downloaded release archives (default the user cache folder/otaflash)")
}

// resolved is a release ready to install.
type resolved struct {
	tree    *release.Tree
	version string
	// origin describes where the release came from, for the user.
	origin string
}

func (f *releaseFlags) githubClient() (*github.Client, error) {
	token := f.token
	if token == "" {
		token = os.Getenv("GITHUB_TOKEN")
	}
	return github.New(github.Options{Token: token, APIURL: f.apiURL, CacheDir: f.cacheDir})
}

// load resolves and reads the release that the flags name.
func (f *releaseFlags) load(ctx context.Context, mainDir string, stderr io.Writer) (*resolved, error) {
	switch {
	case f.source != "" && f.repo != "":
		return nil, errors.New("--source and --repo both given: use one")
	case f.source != "":
		return f.loadSource(mainDir, stderr)
	case f.repo != "":
		return f.loadGitHub(ctx, mainDir, stderr)
	}
	return nil, errors.New("missing release: pass --repo owner/name, or --source with a local folder or .tar.gz")
}

func (f *releaseFlags) loadSource(mainDir string, stderr io.Writer) (*resolved, error) {
	if isConstraint(f.version) {
		return nil, fmt.Errorf("invalid --version %q with --source: name the version of the local release, such as 1.2.0 (ranges select among releases with --repo)", f.version)
	}
	info, err := os.Stat(f.source)
	if err != nil {
		return nil, fmt.Errorf("reading --source: %w (pass a folder or a .tar.gz that exists)", err)
	}
	var tree *release.Tree
	if info.IsDir() {
		dir := f.source
		if sub := filepath.Join(dir, mainDir); isDir(sub) {
			dir = sub
		}
		tree, err = release.FromDir(dir)
	} else {
		tree, err = release.FromTarball(f.source, mainDir)
	}
	if err != nil {
		return nil, err
	}
	version := strings.TrimSpace(f.version)
	if version == "" {
		version = tree.Version
	}
	if version == "" {
		tree.Close()
		return nil, fmt.Errorf("release in %s has no version: pass --version or add a .version file to its %s folder", f.source, mainDir)
	}
	if err := checkVersion(version); err != nil {
		tree.Close()
		return nil, err
	}
	if tree.Version != "" && f.version != "" && tree.Version != version {
		fmt.Fprintf(stderr, "note: --version %s overrides %s in the release's .version\n", version, tree.Version)
	}
	return &resolved{tree: tree, version: version, origin: "local release " + f.source}, nil
}

// isConstraint reports whether v is a semver range rather than one version:
// it has an operator, a comma, or a wildcard part such as 1.x.
func isConstraint(v string) bool {
	if strings.ContainsAny(v, "^~<>=*|, ") {
		return true
	}
	for _, part := range strings.Split(strings.TrimPrefix(v, "v"), ".") {
		if part == "x" || part == "X" {
			return true
		}
	}
	return false
}

// maxVersionLen is the longest version otaflash writes to .version; the
// board reads at most 80 bytes of it back.
const maxVersionLen = 64

// checkVersion rejects a version that cannot be a .version file's one line:
// empty, too long, or with spaces or control characters. It need not be
// semver, but comparisons with GitHub releases use semver.
func checkVersion(v string) error {
	if len(v) > maxVersionLen {
		return fmt.Errorf("invalid version %q: longer than %d bytes", v, maxVersionLen)
	}
	for _, r := range v {
		if r <= ' ' || r == 0x7f || !utf8.ValidRune(r) {
			return fmt.Errorf("invalid version %q: use letters, digits and punctuation without spaces, such as 1.2.0", v)
		}
	}
	return nil
}

func isDir(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}

func (f *releaseFlags) loadGitHub(ctx context.Context, mainDir string, stderr io.Writer) (*resolved, error) {
	owner, name, err := github.ParseRepo(f.repo)
	if err != nil {
		return nil, err
	}
	client, err := f.githubClient()
	if err != nil {
		return nil, err
	}
	rel, err := client.Resolve(ctx, owner, name, github.Query{Version: f.version, Pre: f.pre})
	if err != nil {
		return nil, err
	}
	if rel.Source == "tag" {
		fmt.Fprintf(stderr, "no usable GitHub release in %s; using tag %s\n", f.repo, rel.Tag)
	}
	archive, err := client.Download(ctx, owner, name, rel, nil)
	if err != nil {
		return nil, err
	}
	tree, err := release.FromTarball(archive, mainDir)
	if err != nil {
		return nil, fmt.Errorf("release %s of %s: %w", rel.Tag, f.repo, err)
	}
	return &resolved{tree: tree, version: rel.Tag, origin: fmt.Sprintf("%s %s", f.repo, rel.Tag)}, nil
}
