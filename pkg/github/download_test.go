package github

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/otaflash/otaflash/pkg/github/githubtest"
	"github.com/otaflash/otaflash/pkg/release"
)

const sampleApp = "../../testdata/sampleapp"

// treeContents returns the files of the release in the tarball at path.
func treeContents(t *testing.T, path string) map[string]string {
	t.Helper()
	tree, err := release.FromTarball(path, "")
	if err != nil {
		t.Fatalf("FromTarball(%s): %v", path, err)
	}
	defer tree.Close()
	contents := map[string]string{}
	for _, f := range tree.Files {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		contents[f.Path] = string(data)
	}
	return contents
}

func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree, err := release.FromDir(dir)
	if err != nil {
		t.Fatalf("FromDir(%s): %v", dir, err)
	}
	contents := map[string]string{}
	for _, f := range tree.Files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		contents[f.Path] = string(data)
	}
	return contents
}

func TestDownloadCachesArchive(t *testing.T) {
	server := githubtest.NewServer(t)
	server.AddReleaseFromDir("octo", "app", "v1.0.0", filepath.Join(sampleApp, "v1.0.0"))
	client := newTestClient(t, server, "")
	ctx := context.Background()

	rel, err := client.Resolve(ctx, "octo", "app", Query{})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	before := server.Requests()
	var lastDone, lastTotal int64
	path, err := client.Download(ctx, "octo", "app", rel, func(done, total int64) { lastDone, lastTotal = done, total })
	if err != nil {
		t.Fatalf("Download: %v", err)
	}

	if want := filepath.Join(client.cacheDir, "octo", "app", "v1.0.0.tar.gz"); path != want {
		t.Errorf("path = %s, want %s", path, want)
	}
	if got := server.ArchiveRequests(); got != 1 {
		t.Errorf("archive requests = %d, want 1", got)
	}
	if got := server.Requests() - before; got != 2 {
		t.Errorf("requests = %d, want 2 (tarball link and archive)", got)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat cache entry: %v", err)
	}
	if lastDone != info.Size() || lastTotal != info.Size() {
		t.Errorf("last progress = %d/%d, want %d/%d", lastDone, lastTotal, info.Size(), info.Size())
	}
	want := dirContents(t, filepath.Join(sampleApp, "v1.0.0", "project"))
	if got := treeContents(t, path); !reflect.DeepEqual(got, want) {
		t.Errorf("archive files = %q, want %q", got, want)
	}

	requests := server.Requests()
	again, err := client.Download(ctx, "octo", "app", rel, nil)
	if err != nil {
		t.Fatalf("second Download: %v", err)
	}
	if again != path {
		t.Errorf("second path = %s, want %s", again, path)
	}
	if got := server.Requests(); got != requests {
		t.Errorf("cache hit made %d requests, want 0", got-requests)
	}
}

func TestDownloadPartialLeavesNoCache(t *testing.T) {
	const token = "ghp_secretTokenValue123"
	tests := []struct {
		name       string
		token      string
		sendLength bool
	}{
		{name: "with content length", sendLength: true},
		{name: "close delimited", sendLength: false},
		{name: "close delimited with token", token: token, sendLength: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := githubtest.NewServer(t)
			server.AddReleaseFromDir("octo", "app", "v1.1.0", filepath.Join(sampleApp, "v1.1.0"))
			client := newTestClient(t, server, tt.token)
			rel := Release{Tag: "v1.1.0"}
			server.DropNextArchive(100, tt.sendLength)

			_, err := client.Download(context.Background(), "octo", "app", rel, nil)
			if err == nil {
				t.Fatal("Download of a cut archive succeeded, want an error")
			}
			for _, secret := range []string{token, githubtest.ArchiveURLToken} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a token", err)
				}
			}
			entries, readErr := os.ReadDir(filepath.Join(client.cacheDir, "octo", "app"))
			if readErr != nil {
				t.Fatalf("reading cache folder: %v", readErr)
			}
			if len(entries) != 0 {
				t.Errorf("cache folder has %d entries after a failed download, want none (first %s)", len(entries), entries[0].Name())
			}

			// The next attempt downloads again and succeeds.
			path, err := client.Download(context.Background(), "octo", "app", rel, nil)
			if err != nil {
				t.Fatalf("Download after the failure: %v", err)
			}
			if got := server.ArchiveRequests(); got != 2 {
				t.Errorf("archive requests = %d, want 2", got)
			}
			if _, ok := treeContents(t, path)["lib/greeting.py"]; !ok {
				t.Errorf("downloaded archive has no lib/greeting.py")
			}
		})
	}
}

func TestDownloadTagWithSlash(t *testing.T) {
	server := githubtest.NewServer(t)
	server.AddRelease("octo", "app", "release/v1.0.0", tagOnly, projectFiles("release/v1.0.0"))
	client := newTestClient(t, server, "")

	path, err := client.Download(context.Background(), "octo", "app", Release{Tag: "release/v1.0.0"}, nil)
	if err != nil {
		t.Fatalf("Download: %v", err)
	}
	if want := filepath.Join(client.cacheDir, "octo", "app", "release%2Fv1.0.0.tar.gz"); path != want {
		t.Errorf("path = %s, want %s", path, want)
	}
}

func TestDownloadUnknownTag(t *testing.T) {
	server := githubtest.NewServer(t)
	addReleases(server, published, "v1.0.0")
	_, err := newTestClient(t, server, "").Download(context.Background(), "octo", "app", Release{Tag: "v9.9.9"}, nil)
	if err == nil || !strings.Contains(err.Error(), "no tarball of tag v9.9.9") {
		t.Errorf("error = %v, want one saying the tag has no tarball", err)
	}
}

func TestDownloadPrivateRepoSendsToken(t *testing.T) {
	const token = "ghp_secretTokenValue123"
	server := githubtest.NewServer(t)
	server.RequireToken(token)
	addReleases(server, published, "v1.0.0")

	if _, err := newTestClient(t, server, token).Download(context.Background(), "octo", "app", Release{Tag: "v1.0.0"}, nil); err != nil {
		t.Fatalf("Download: %v", err)
	}
	for _, r := range server.RequestLog() {
		if r.Authorization != "Bearer "+token {
			t.Errorf("request %s had Authorization %q, want the bearer token", r.Path, r.Authorization)
		}
	}
}

func TestDownloadRedirectPolicy(t *testing.T) {
	const token = "ghp_secretTokenValue123"
	var seenByArchiveHost, seenByOther []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenByOther = append(seenByOther, r.Header.Get("Authorization"))
	}))
	t.Cleanup(other.Close)
	archiveHost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenByArchiveHost = append(seenByArchiveHost, r.Header.Get("Authorization"))
		http.Redirect(w, r, other.URL+"/elsewhere.tar.gz", http.StatusFound)
	}))
	t.Cleanup(archiveHost.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, archiveHost.URL+"/octo/app/legacy.tar.gz/refs/tags/v1.0.0?token=temp", http.StatusFound)
	}))
	t.Cleanup(api.Close)

	client, err := New(Options{Token: token, APIURL: api.URL, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Download(context.Background(), "octo", "app", Release{Tag: "v1.0.0"}, nil)
	if err == nil || !strings.Contains(err.Error(), "redirected to "+other.URL) {
		t.Errorf("error = %v, want a rejected redirect to %s", err, other.URL)
	}
	if strings.Contains(err.Error(), "token=") || strings.Contains(err.Error(), token) {
		t.Errorf("error %q contains a token", err)
	}
	if !reflect.DeepEqual(seenByArchiveHost, []string{"Bearer " + token}) {
		t.Errorf("archive host saw Authorization %q, want the bearer token once", seenByArchiveHost)
	}
	if len(seenByOther) != 0 {
		t.Errorf("other host received %d requests, want none", len(seenByOther))
	}
}
