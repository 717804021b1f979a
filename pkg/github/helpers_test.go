package github

import (
	"testing"

	"github.com/otaflash/otaflash/pkg/github/githubtest"
)

// newTestClient returns a Client for the fake server with a fresh cache folder.
func newTestClient(t *testing.T, server *githubtest.Server, token string) *Client {
	t.Helper()
	client, err := New(Options{Token: token, APIURL: server.URL(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return client
}

// projectFiles returns a repository with one file in project/ whose
// content names tag, so archives of different tags differ.
func projectFiles(tag string) map[string][]byte {
	return map[string][]byte{"project/main.py": []byte("print('" + tag + "')\n")}
}

// addReleases adds tags to octo/app in order, each as a release with opts.
func addReleases(server *githubtest.Server, opts githubtest.ReleaseOpts, tags ...string) {
	for _, tag := range tags {
		server.AddRelease("octo", "app", tag, opts, projectFiles(tag))
	}
}

var (
	published  = githubtest.ReleaseOpts{}
	prerelease = githubtest.ReleaseOpts{Prerelease: true}
	draft      = githubtest.ReleaseOpts{Draft: true}
	tagOnly    = githubtest.ReleaseOpts{NoRelease: true}
)
