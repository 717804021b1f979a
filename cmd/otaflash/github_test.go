package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/github/githubtest"
)

// fakeGitHub serves the sample app's snapshots as releases of acme/app.
func fakeGitHub(t *testing.T) *githubtest.Server {
	t.Helper()
	gh := githubtest.NewServer(t)
	gh.AddReleaseFromDir("acme", "app", "v1.0.0", sampleApp("v1.0.0"))
	gh.AddReleaseFromDir("acme", "app", "v1.1.0", sampleApp("v1.1.0"))
	gh.AddReleaseFromDir("acme", "app", "v1.2.0-rc.1", sampleApp("v1.2.0-rc.1"), githubtest.ReleaseOpts{Prerelease: true})
	return gh
}

func githubArgs(gh *githubtest.Server, t *testing.T, args ...string) []string {
	return append(args, "--api-url", gh.URL(), "--cache-dir", t.TempDir())
}

func TestUpdateFromGitHubNewestStable(t *testing.T) {
	t.Parallel()
	gh := fakeGitHub(t)
	board, flash := startBoard(t, "1.27", nil)
	code, stdout, _ := run(t, githubArgs(gh, t, "update", "--port", board.Port(), "--repo", "acme/app")...)
	if code != 0 {
		t.Fatalf("update exit code = %d, want 0", code)
	}
	if !strings.Contains(stdout, "acme/app v1.1.0") {
		t.Errorf("stdout should name release v1.1.0 (newest stable, not the rc):\n%s", stdout)
	}
	want, err := os.ReadFile(filepath.Join(sampleApp("v1.1.0"), "project", "main.py"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(flash, "project", "main.py")); err != nil || string(got) != string(want) {
		t.Errorf("/project/main.py = %q, %v; want v1.1.0's", got, err)
	}
	if gh.ArchiveRequests() != 1 {
		t.Errorf("archive requests = %d, want 1", gh.ArchiveRequests())
	}

	code, stdout, _ = run(t, "status", "--port", board.Port(), "--repo", "acme/app", "--pre", "--api-url", gh.URL())
	if code != 0 {
		t.Fatalf("status exit code = %d", code)
	}
	if !strings.Contains(stdout, "latest:     v1.2.0-rc.1 (newer") {
		t.Errorf("status --pre should offer the rc as newer:\n%s", stdout)
	}
}

func TestUpdateFromGitHubChosenVersion(t *testing.T) {
	t.Parallel()
	gh := fakeGitHub(t)
	board, flash := startBoard(t, "1.13", nil)
	code, _, _ := run(t, githubArgs(gh, t, "update", "--port", board.Port(), "--repo", "acme/app", "--version", "1.0.0", "--no-reset")...)
	if code != 0 {
		t.Fatalf("update --version 1.0.0 exit code = %d", code)
	}
	if got, _ := os.ReadFile(filepath.Join(flash, "project", ".version")); string(got) != "v1.0.0" {
		t.Errorf("/project/.version = %q, want v1.0.0", got)
	}
	code, _, stderr := run(t, githubArgs(gh, t, "update", "--port", board.Port(), "--repo", "acme/app", "--version", "1.5.0")...)
	if code != exitRelease {
		t.Errorf("update --version 1.5.0 exit code = %d, want %d", code, exitRelease)
	}
	if !strings.Contains(stderr, "v1.1.0") {
		t.Errorf("stderr should list the nearest versions:\n%s", stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(flash, "project", ".version")); string(got) != "v1.0.0" {
		t.Errorf("a missing version changed the board: /project/.version = %q", got)
	}
}

func TestUpdateFromGitHubTagsOnly(t *testing.T) {
	t.Parallel()
	gh := githubtest.NewServer(t)
	gh.AddReleaseFromDir("acme", "tagged", "v1.0.0", sampleApp("v1.0.0"), githubtest.ReleaseOpts{NoRelease: true})
	board, _ := startBoard(t, "1.27", nil)
	code, _, stderr := run(t, githubArgs(gh, t, "update", "--port", board.Port(), "--repo", "acme/tagged", "--no-reset")...)
	if code != 0 {
		t.Fatalf("update exit code = %d", code)
	}
	if !strings.Contains(stderr, "using tag v1.0.0") {
		t.Errorf("stderr should say the tag was used:\n%s", stderr)
	}
}

func TestUpdateFromGitHubErrors(t *testing.T) {
	t.Parallel()
	missingPort := filepath.Join(t.TempDir(), "ttyUSB3")
	tests := []struct {
		name     string
		setup    func(*githubtest.Server)
		repo     string
		wantCode int
		wantErr  []string
	}{
		{
			name:     "repo not found",
			setup:    func(*githubtest.Server) {},
			repo:     "acme/none",
			wantCode: exitRelease,
			wantErr:  []string{"acme/none", "GITHUB_TOKEN"},
		},
		{
			name:     "rate limited",
			setup:    func(gh *githubtest.Server) { gh.RateLimit(10, time.Now().Add(30*time.Minute)) },
			repo:     "acme/app",
			wantCode: exitRelease,
			wantErr:  []string{"rate limit", "GITHUB_TOKEN"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gh := fakeGitHub(t)
			tc.setup(gh)
			code, _, stderr := run(t, githubArgs(gh, t, "update", "--port", missingPort, "--repo", tc.repo)...)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d", code, tc.wantCode)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr = %q, want it to contain %q", stderr, want)
				}
			}
		})
	}
}

func TestUpdateRejectsMaliciousArchive(t *testing.T) {
	t.Parallel()
	gh := githubtest.NewServer(t)
	gh.AddRelease("acme", "evil", "v1.0.0", githubtest.ReleaseOpts{}, map[string][]byte{
		"project/main.py":       []byte("print('ok')\n"),
		"project/../../boot.py": []byte("print('owned')\n"),
	})
	board, flash := startBoard(t, "1.27", nil)
	code, _, stderr := run(t, githubArgs(gh, t, "update", "--port", board.Port(), "--repo", "acme/evil")...)
	if code == 0 {
		t.Fatalf("update of a malicious archive succeeded")
	}
	if !strings.Contains(stderr, "..") {
		t.Errorf("stderr should name the rejected entry:\n%s", stderr)
	}
	entries, err := os.ReadDir(flash)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("the board's flash was touched: %v", entries)
	}
}

func TestTokenNeverPrinted(t *testing.T) {
	t.Parallel()
	const token = "ghp_secretTOKENvalue1234567890"
	gh := fakeGitHub(t)
	gh.RequireToken(token)
	board, _ := startBoard(t, "1.27", nil)
	args := githubArgs(gh, t, "update", "--port", board.Port(), "--repo", "acme/app", "--token", token, "-v", "--no-reset")
	code, stdout, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("update with a token: exit code %d", code)
	}
	if strings.Contains(stdout+stderr, token) || strings.Contains(stdout+stderr, token[4:]) {
		t.Errorf("the token appears in the output")
	}
	// A rejected token is not printed either.
	code, stdout, stderr = run(t, "status", "--port", board.Port(), "--repo", "acme/app", "--api-url", gh.URL(), "--token", "ghp_wrongTOKEN")
	if code == 0 {
		t.Errorf("status with a wrong token succeeded")
	}
	if strings.Contains(stdout+stderr, "ghp_wrongTOKEN") {
		t.Errorf("the wrong token appears in the output")
	}
}
