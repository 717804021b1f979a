package github

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/github/githubtest"
)

func TestResolveSelectsVersion(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(s *githubtest.Server)
		query      Query
		wantTag    string
		wantSource string
		wantPre    bool
	}{
		{
			name: "newest stable by semver",
			setup: func(s *githubtest.Server) {
				addReleases(s, published, "v1.10.0", "v1.9.0")
				addReleases(s, prerelease, "v1.10.1-rc.1")
			},
			wantTag:    "v1.10.0",
			wantSource: SourceRelease,
		},
		{
			name: "prerelease admitted",
			setup: func(s *githubtest.Server) {
				addReleases(s, published, "v1.9.0", "v1.10.0")
				addReleases(s, prerelease, "v1.10.1-rc.1")
			},
			query:      Query{Pre: true},
			wantTag:    "v1.10.1-rc.1",
			wantSource: SourceRelease,
			wantPre:    true,
		},
		{
			name:       "semver prerelease not flagged",
			setup:      func(s *githubtest.Server) { addReleases(s, published, "v1.0.0", "v1.1.0-beta.2") },
			wantTag:    "v1.0.0",
			wantSource: SourceRelease,
		},
		{
			name:       "drafts skipped",
			setup:      func(s *githubtest.Server) { addReleases(s, published, "v1.0.0"); addReleases(s, draft, "v2.0.0") },
			wantTag:    "v1.0.0",
			wantSource: SourceRelease,
		},
		{
			name:       "non-semver tags skipped",
			setup:      func(s *githubtest.Server) { addReleases(s, published, "v1.0.0", "nightly", "latest-build") },
			wantTag:    "v1.0.0",
			wantSource: SourceRelease,
		},
		{
			name:       "tags only",
			setup:      func(s *githubtest.Server) { addReleases(s, tagOnly, "v1.2.0", "1.10.0", "nightly", "v1.9.9") },
			wantTag:    "1.10.0",
			wantSource: SourceTag,
		},
		{
			name:       "drafts only falls back to tags",
			setup:      func(s *githubtest.Server) { addReleases(s, tagOnly, "v1.0.0"); addReleases(s, draft, "v2.0.0") },
			wantTag:    "v1.0.0",
			wantSource: SourceTag,
		},
		{
			name: "prereleases only falls back to stable tag",
			setup: func(s *githubtest.Server) {
				addReleases(s, tagOnly, "v1.0.0")
				addReleases(s, prerelease, "v2.0.0-rc.1")
			},
			wantTag:    "v1.0.0",
			wantSource: SourceTag,
		},
		{
			name:       "release preferred over newer tag",
			setup:      func(s *githubtest.Server) { addReleases(s, published, "v1.0.0"); addReleases(s, tagOnly, "v1.1.0") },
			wantTag:    "v1.0.0",
			wantSource: SourceRelease,
		},
		{
			name:       "exact version without v",
			setup:      func(s *githubtest.Server) { addReleases(s, published, "v1.9.0", "v1.10.0") },
			query:      Query{Version: "1.9.0"},
			wantTag:    "v1.9.0",
			wantSource: SourceRelease,
		},
		{
			name:       "exact version with v",
			setup:      func(s *githubtest.Server) { addReleases(s, published, "v1.9.0", "v1.10.0") },
			query:      Query{Version: "v1.9.0"},
			wantTag:    "v1.9.0",
			wantSource: SourceRelease,
		},
		{
			name:       "exact version matches unprefixed tag",
			setup:      func(s *githubtest.Server) { addReleases(s, published, "1.9.0", "1.10.0") },
			query:      Query{Version: "v1.9.0"},
			wantTag:    "1.9.0",
			wantSource: SourceRelease,
		},
		{
			name: "exact prerelease without pre",
			setup: func(s *githubtest.Server) {
				addReleases(s, published, "v1.0.0")
				addReleases(s, prerelease, "v1.1.0-rc.1")
			},
			query:      Query{Version: "1.1.0-rc.1"},
			wantTag:    "v1.1.0-rc.1",
			wantSource: SourceRelease,
			wantPre:    true,
		},
		{
			name:       "exact version only as tag",
			setup:      func(s *githubtest.Server) { addReleases(s, tagOnly, "v0.9.0"); addReleases(s, published, "v1.0.0") },
			query:      Query{Version: "0.9.0"},
			wantTag:    "v0.9.0",
			wantSource: SourceTag,
		},
		{
			name: "caret constraint",
			setup: func(s *githubtest.Server) {
				addReleases(s, published, "v1.1.0", "v1.2.0", "v1.2.5", "v1.3.0", "v2.0.0")
			},
			query:      Query{Version: "^1.2"},
			wantTag:    "v1.3.0",
			wantSource: SourceRelease,
		},
		{
			name: "tilde constraint",
			setup: func(s *githubtest.Server) {
				addReleases(s, published, "v1.1.0", "v1.2.0", "v1.2.5", "v1.3.0", "v2.0.0")
			},
			query:      Query{Version: "~1.2"},
			wantTag:    "v1.2.5",
			wantSource: SourceRelease,
		},
		{
			name: "constraint with pre",
			setup: func(s *githubtest.Server) {
				addReleases(s, published, "v1.2.0")
				addReleases(s, prerelease, "v1.3.0-rc.1", "v2.0.0-rc.1")
			},
			query:      Query{Version: "^1.2", Pre: true},
			wantTag:    "v1.3.0-rc.1",
			wantSource: SourceRelease,
			wantPre:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := githubtest.NewServer(t)
			tt.setup(server)

			got, err := newTestClient(t, server, "").Resolve(context.Background(), "octo", "app", tt.query)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got.Tag != tt.wantTag {
				t.Errorf("Tag = %q, want %q", got.Tag, tt.wantTag)
			}
			if got.Source != tt.wantSource {
				t.Errorf("Source = %q, want %q", got.Source, tt.wantSource)
			}
			if got.Prerelease != tt.wantPre {
				t.Errorf("Prerelease = %v, want %v", got.Prerelease, tt.wantPre)
			}
			if got.Version == nil || got.Version.Original() != tt.wantTag {
				t.Errorf("Version = %v, want the parsed %q", got.Version, tt.wantTag)
			}
		})
	}
}

func TestResolveReturnsNotes(t *testing.T) {
	server := githubtest.NewServer(t)
	server.AddRelease("octo", "app", "v1.0.0", githubtest.ReleaseOpts{Notes: "Fixes the *blink*."}, projectFiles("v1.0.0"))

	got, err := newTestClient(t, server, "").Resolve(context.Background(), "octo", "app", Query{})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got.Notes != "Fixes the *blink*." {
		t.Errorf("Notes = %q, want the release body", got.Notes)
	}
}

func TestResolvePaginates(t *testing.T) {
	server := githubtest.NewServer(t)
	// Added oldest first, so the fake lists v1.149.0 first and v1.0.0 last.
	for minor := 0; minor < 150; minor++ {
		addReleases(server, published, fmt.Sprintf("v1.%d.0", minor))
	}
	// The newest version is the oldest release, so it is on the last page.
	server.AddRelease("octo", "app", "v0.0.1", published, projectFiles("v0.0.1"))

	got, err := newTestClient(t, server, "").Resolve(context.Background(), "octo", "app", Query{Version: "0.0.1"})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got.Tag != "v0.0.1" {
		t.Errorf("Tag = %q, want v0.0.1 from the second page", got.Tag)
	}
	if n := server.Requests(); n != 2 {
		t.Errorf("requests = %d, want 2 pages of 100 releases", n)
	}
}

func TestResolveVersionNotFound(t *testing.T) {
	tests := []struct {
		name          string
		tags          []string
		query         Query
		wantAvailable []string
	}{
		{
			name:          "nearest around exact version",
			tags:          []string{"v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0", "v1.6.0", "v1.7.0", "v2.0.0"},
			query:         Query{Version: "1.5.0"},
			wantAvailable: []string{"v1.7.0", "v1.6.0", "v1.4.0", "v1.3.0", "v1.2.0"},
		},
		{
			name:          "newer than all",
			tags:          []string{"v1.0.0", "v1.1.0", "v1.2.0"},
			query:         Query{Version: "v9.0.0"},
			wantAvailable: []string{"v1.2.0", "v1.1.0", "v1.0.0"},
		},
		{
			name:          "older than all",
			tags:          []string{"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0", "v1.5.0"},
			query:         Query{Version: "0.1.0"},
			wantAvailable: []string{"v1.4.0", "v1.3.0", "v1.2.0", "v1.1.0", "v1.0.0"},
		},
		{
			name:          "constraint lists newest",
			tags:          []string{"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0", "v1.5.0", "v2.0.0-rc.1"},
			query:         Query{Version: "^3"},
			wantAvailable: []string{"v1.5.0", "v1.4.0", "v1.3.0", "v1.2.0", "v1.1.0"},
		},
		{
			name:  "empty repository",
			query: Query{Version: "1.0.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := githubtest.NewServer(t)
			server.AddRepo("octo", "app")
			addReleases(server, published, tt.tags...)

			_, err := newTestClient(t, server, "").Resolve(context.Background(), "octo", "app", tt.query)
			var notFound *VersionNotFoundError
			if !errors.As(err, &notFound) {
				t.Fatalf("error = %v, want *VersionNotFoundError", err)
			}
			if !reflect.DeepEqual(notFound.Available, tt.wantAvailable) {
				t.Errorf("Available = %q, want %q", notFound.Available, tt.wantAvailable)
			}
			if notFound.Requested != tt.query.Version {
				t.Errorf("Requested = %q, want %q", notFound.Requested, tt.query.Version)
			}
			for _, tag := range tt.wantAvailable {
				if !strings.Contains(err.Error(), tag) {
					t.Errorf("message %q does not list %s", err, tag)
				}
			}
			if !strings.Contains(err.Error(), "octo/app") {
				t.Errorf("message %q does not name the repository", err)
			}
		})
	}
}

func TestResolveNoRelease(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(s *githubtest.Server)
		wantText string
	}{
		{name: "empty repository", setup: func(s *githubtest.Server) { s.AddRepo("octo", "app") }, wantText: "no published release or tag"},
		{name: "drafts only", setup: func(s *githubtest.Server) { addReleases(s, draft, "v1.0.0") }, wantText: "no published release or tag"},
		{name: "non-semver tags", setup: func(s *githubtest.Server) { addReleases(s, tagOnly, "nightly") }, wantText: "no published release or tag"},
		{name: "prereleases only", setup: func(s *githubtest.Server) { addReleases(s, prerelease, "v1.0.0-rc.1") }, wantText: "use --pre"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := githubtest.NewServer(t)
			tt.setup(server)

			_, err := newTestClient(t, server, "").Resolve(context.Background(), "octo", "app", Query{})
			if !errors.Is(err, ErrNoRelease) {
				t.Fatalf("error = %v, want ErrNoRelease", err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantText)
			}
		})
	}
}

func TestResolveInvalidVersion(t *testing.T) {
	server := githubtest.NewServer(t)
	addReleases(server, published, "v1.0.0")
	_, err := newTestClient(t, server, "").Resolve(context.Background(), "octo", "app", Query{Version: "banana"})
	if err == nil || !strings.Contains(err.Error(), `invalid version "banana"`) {
		t.Errorf("error = %v, want one about the invalid version", err)
	}
	if n := server.Requests(); n != 0 {
		t.Errorf("requests = %d, want none for an invalid query", n)
	}
}

func TestResolveRepoNotFound(t *testing.T) {
	server := githubtest.NewServer(t)
	_, err := newTestClient(t, server, "").Resolve(context.Background(), "octo", "missing", Query{})
	if !errors.Is(err, ErrRepoNotFound) {
		t.Fatalf("error = %v, want ErrRepoNotFound", err)
	}
	for _, want := range []string{"octo/missing", "--repo", "GITHUB_TOKEN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
}

func TestResolveRateLimited(t *testing.T) {
	const token = "ghp_secretTokenValue123"
	reset := time.Now().Add(42 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name      string
		limit     func(s *githubtest.Server)
		token     string
		wantReset time.Time
		wantNear  time.Duration // when wantReset is zero: expected distance from now
	}{
		{name: "primary 403", limit: func(s *githubtest.Server) { s.RateLimit(1, reset) }, wantReset: reset},
		{name: "primary 403 with token", limit: func(s *githubtest.Server) { s.RateLimit(1, reset) }, token: token, wantReset: reset},
		{name: "secondary 403", limit: func(s *githubtest.Server) { s.SecondaryRateLimit(1, 403, 90*time.Second) }, wantNear: 90 * time.Second},
		{name: "secondary 429", limit: func(s *githubtest.Server) { s.SecondaryRateLimit(1, 429, 60*time.Second) }, wantNear: 60 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := githubtest.NewServer(t)
			addReleases(server, published, "v1.0.0")
			tt.limit(server)

			_, err := newTestClient(t, server, tt.token).Resolve(context.Background(), "octo", "app", Query{})
			var limited *RateLimitError
			if !errors.As(err, &limited) {
				t.Fatalf("error = %v, want *RateLimitError", err)
			}
			if !tt.wantReset.IsZero() && !limited.Reset.Equal(tt.wantReset) {
				t.Errorf("Reset = %v, want %v", limited.Reset, tt.wantReset)
			}
			if tt.wantReset.IsZero() {
				if d := time.Until(limited.Reset); d < tt.wantNear-5*time.Second || d > tt.wantNear {
					t.Errorf("Reset is %v from now, want about %v", d, tt.wantNear)
				}
			}
			message := err.Error()
			if !strings.Contains(message, "GITHUB_TOKEN") {
				t.Errorf("message %q does not mention GITHUB_TOKEN", message)
			}
			if !strings.Contains(message, limited.Reset.Local().Format("15:04:05")) {
				t.Errorf("message %q does not give the reset time", message)
			}
			if strings.Contains(message, token) {
				t.Errorf("message %q contains the token", message)
			}
		})
	}
}

func TestResolveSendsToken(t *testing.T) {
	const token = "ghp_secretTokenValue123"
	server := githubtest.NewServer(t)
	server.RequireToken(token)
	addReleases(server, tagOnly, "v1.0.0")

	got, err := newTestClient(t, server, token).Resolve(context.Background(), "octo", "app", Query{})
	if err != nil {
		t.Fatalf("Resolve with token: %v", err)
	}
	if got.Tag != "v1.0.0" {
		t.Errorf("Tag = %q, want v1.0.0", got.Tag)
	}
	for _, r := range server.RequestLog() {
		if r.Authorization != "Bearer "+token {
			t.Errorf("request %s had Authorization %q, want the bearer token", r.Path, r.Authorization)
		}
		if strings.Contains(r.RawQuery, token) || strings.Contains(r.Path, token) {
			t.Errorf("request %s?%s carries the token in its URL", r.Path, r.RawQuery)
		}
	}
}

func TestResolveTokenErrors(t *testing.T) {
	const token = "ghp_secretTokenValue123"
	tests := []struct {
		name     string
		token    string
		wantIs   error
		wantText string
	}{
		{name: "no token for private repo", token: "", wantIs: ErrRepoNotFound, wantText: "GITHUB_TOKEN"},
		{name: "wrong token", token: "ghp_wrongTokenValue456", wantText: "401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := githubtest.NewServer(t)
			server.RequireToken(token)
			addReleases(server, published, "v1.0.0")

			_, err := newTestClient(t, server, tt.token).Resolve(context.Background(), "octo", "app", Query{})
			if err == nil {
				t.Fatal("Resolve succeeded, want an error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error = %v, want %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantText)
			}
			for _, secret := range []string{token, tt.token} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a token", err)
				}
			}
		})
	}
}
