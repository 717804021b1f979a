package githubtest

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// get sends a GET to the fake without following redirects.
func get(t *testing.T, s *Server, path string) *http.Response {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(s.srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decoding JSON: %v", err)
	}
}

func TestServerPaginatesReleases(t *testing.T) {
	s := NewServer(t)
	for i := 0; i < 5; i++ {
		s.AddRelease("octo", "app", fmt.Sprintf("v1.%d.0", i), ReleaseOpts{}, map[string][]byte{"project/a.py": {}})
	}
	tests := []struct {
		name      string
		query     string
		wantTags  []string
		wantLinks []string
	}{
		{name: "first page", query: "?per_page=2", wantTags: []string{"v1.4.0", "v1.3.0"}, wantLinks: []string{`page=2&per_page=2>; rel="next"`, `page=3&per_page=2>; rel="last"`}},
		{name: "middle page", query: "?per_page=2&page=2", wantTags: []string{"v1.2.0", "v1.1.0"}, wantLinks: []string{`rel="next"`, `page=1&per_page=2>; rel="prev"`}},
		{name: "last page", query: "?per_page=2&page=3", wantTags: []string{"v1.0.0"}, wantLinks: []string{`rel="first"`}},
		{name: "default page size", query: "", wantTags: []string{"v1.4.0", "v1.3.0", "v1.2.0", "v1.1.0", "v1.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, s, "/repos/octo/app/releases"+tt.query)
			var releases []releaseJSON
			decode(t, resp, &releases)
			var tags []string
			for _, r := range releases {
				tags = append(tags, r.TagName)
			}
			if strings.Join(tags, ",") != strings.Join(tt.wantTags, ",") {
				t.Errorf("tags = %q, want %q", tags, tt.wantTags)
			}
			link := resp.Header.Get("Link")
			for _, want := range tt.wantLinks {
				if !strings.Contains(link, want) {
					t.Errorf("Link = %q, want it to contain %q", link, want)
				}
			}
			if tt.wantLinks == nil && link != "" {
				t.Errorf("Link = %q, want none for a single page", link)
			}
		})
	}
}

func TestServerNotFound(t *testing.T) {
	s := NewServer(t)
	s.AddRelease("octo", "app", "v1.0.0", ReleaseOpts{Prerelease: true}, map[string][]byte{"project/a.py": {}})
	for _, path := range []string{"/repos/octo/missing/releases", "/repos/octo/app/releases/latest", "/repos/octo/app/releases/tags/v9", "/repos/octo/app/tarball/v9", "/nope"} {
		resp := get(t, s, path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s status = %d, want 404", path, resp.StatusCode)
			continue
		}
		var body errorBody
		decode(t, resp, &body)
		if body.Message != "Not Found" {
			t.Errorf("GET %s message = %q, want %q", path, body.Message, "Not Found")
		}
	}
}

func TestServerRateLimit(t *testing.T) {
	s := NewServer(t)
	s.AddRepo("octo", "app")
	reset := time.Now().Add(time.Hour)
	s.RateLimit(1, reset)

	resp := get(t, s, "/repos/octo/app/tags")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status = %d, want 403", resp.StatusCode)
	}
	if got := resp.Header.Get("X-RateLimit-Remaining"); got != "0" {
		t.Errorf("X-RateLimit-Remaining = %q, want 0", got)
	}
	if got := resp.Header.Get("X-RateLimit-Reset"); got != strconv.FormatInt(reset.Unix(), 10) {
		t.Errorf("X-RateLimit-Reset = %q, want %d", got, reset.Unix())
	}
	if again := get(t, s, "/repos/octo/app/tags"); again.StatusCode != http.StatusOK {
		t.Errorf("status after the limited request = %d, want 200", again.StatusCode)
	}
}

func TestServerTarballLayout(t *testing.T) {
	s := NewServer(t)
	s.AddRelease("octo", "app", "v1.0.0", ReleaseOpts{}, map[string][]byte{
		"project/main.py":     []byte("print(1)\n"),
		"project/lib/util.py": []byte("X = 1\n"),
		"README.md":           []byte("# app\n"),
	})

	redirect := get(t, s, "/repos/octo/app/tarball/v1.0.0")
	if redirect.StatusCode != http.StatusFound {
		t.Fatalf("tarball status = %d, want 302", redirect.StatusCode)
	}
	location := redirect.Header.Get("Location")
	if !strings.HasPrefix(location, s.srv.URL+codeloadPrefix) {
		t.Fatalf("Location = %q, want the fake's archive path", location)
	}
	resp := get(t, s, strings.TrimPrefix(location, s.srv.URL))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("archive status = %d, want 200", resp.StatusCode)
	}

	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("archive is not gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	var names []string
	var sha string
	for {
		header, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		if header.Typeflag == tar.TypeXGlobalHeader {
			sha = header.PAXRecords["comment"]
			continue
		}
		names = append(names, header.Name)
	}
	if len(sha) != 40 {
		t.Fatalf("pax global header comment = %q, want a 40-digit commit id", sha)
	}
	top := "octo-app-" + sha[:7] + "/"
	want := []string{top, top + "README.md", top + "project/", top + "project/lib/", top + "project/lib/util.py", top + "project/main.py"}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries = %q, want %q", names, want)
	}
	if n := s.ArchiveRequests(); n != 1 {
		t.Errorf("ArchiveRequests = %d, want 1", n)
	}
}
