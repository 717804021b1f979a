// Package githubtest provides a fake of the GitHub REST API endpoints that
// otaflash uses, served by httptest on the loopback interface, for tests.
package githubtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ArchiveURLToken is the query token that the fake adds to the archive URL
// when the tarball request is authenticated, as GitHub does for private
// repositories. Tests check that it never appears in errors.
const ArchiveURLToken = "fake-archive-url-token"

// ReleaseOpts describes how a tag is published.
type ReleaseOpts struct {
	// Draft makes an unpublished release, which creates no tag.
	Draft bool
	// Prerelease marks the release as a prerelease.
	Prerelease bool
	// NoRelease creates only the tag.
	NoRelease bool
	// Notes is the release body.
	Notes string
}

// Request is one request that the server received.
type Request struct {
	Method        string
	Path          string
	RawQuery      string
	Authorization string
}

// Server is a fake GitHub API. Create it with NewServer.
type Server struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	repos     map[string]*fakeRepo // key "owner/repo" in lower case
	requests  []Request
	limit     rateLimitState
	token     string
	drop      *dropState
	nextID    int64
	createdAt time.Time
}

type fakeRepo struct {
	owner, name string
	releases    []*fakeRelease // in the order added
}

type fakeRelease struct {
	id        int64
	tag       string
	opts      ReleaseOpts
	sha       string
	archive   []byte
	createdAt time.Time
}

type rateLimitState struct {
	remaining  int // requests still to reject
	reset      time.Time
	status     int
	secondary  bool
	retryAfter time.Duration
}

type dropState struct {
	afterBytes int
	sendLength bool
}

// NewServer starts a fake on a loopback address and closes it when the
// test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, repos: map[string]*fakeRepo{}, createdAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.srv = httptest.NewServer(s.routes())
	t.Cleanup(s.srv.Close)
	return s
}

// URL returns the API base URL, with a trailing slash, for Options.APIURL.
func (s *Server) URL() string { return s.srv.URL + "/" }

// AddRepo creates an empty repository if it does not exist.
func (s *Server) AddRepo(owner, repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repoLocked(owner, repo)
}

func (s *Server) repoLocked(owner, repo string) *fakeRepo {
	key := strings.ToLower(owner + "/" + repo)
	r, ok := s.repos[key]
	if !ok {
		r = &fakeRepo{owner: owner, name: repo}
		s.repos[key] = r
	}
	return r
}

// AddRelease adds tag to owner/repo with files, keyed by slash-separated
// paths from the repository root such as "project/main.py". Releases added
// later are newer.
func (s *Server) AddRelease(owner, repo, tag string, opts ReleaseOpts, files map[string][]byte) {
	s.t.Helper()
	sha := commitSHA(owner, repo, tag, files)
	archive, err := buildTarball(owner, repo, sha, files)
	if err != nil {
		s.t.Fatalf("githubtest: building tarball of %s/%s %s: %v", owner, repo, tag, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(owner, repo)
	for _, existing := range r.releases {
		if existing.tag == tag {
			s.t.Fatalf("githubtest: %s/%s already has tag %s", owner, repo, tag)
		}
	}
	s.nextID++
	r.releases = append(r.releases, &fakeRelease{
		id:        s.nextID,
		tag:       tag,
		opts:      opts,
		sha:       sha,
		archive:   archive,
		createdAt: s.createdAt.Add(time.Duration(s.nextID) * time.Hour),
	})
}

// AddReleaseFromDir adds tag to owner/repo with the files of dir, which is
// laid out as the repository, such as dir/project/main.py. opts is
// optional, and at most one is used.
func (s *Server) AddReleaseFromDir(owner, repo, tag, dir string, opts ...ReleaseOpts) {
	s.t.Helper()
	files, err := readDirFiles(dir)
	if err != nil {
		s.t.Fatalf("githubtest: reading %s: %v", dir, err)
	}
	var o ReleaseOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	s.AddRelease(owner, repo, tag, o, files)
}

// RateLimit makes the next n API requests fail as GitHub does when the
// primary rate limit is used up: 403 with X-RateLimit-Remaining: 0 and
// X-RateLimit-Reset set to reset. Archive downloads are not limited.
func (s *Server) RateLimit(n int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = rateLimitState{remaining: n, reset: reset, status: http.StatusForbidden}
}

// SecondaryRateLimit makes the next n API requests fail with status (403 or
// 429) and Retry-After, as GitHub does for its secondary rate limit.
func (s *Server) SecondaryRateLimit(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = rateLimitState{remaining: n, status: status, secondary: true, retryAfter: retryAfter}
}

// RequireToken makes every repository private to token. An API request
// without an Authorization header gets 404, and one with another token 401.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// DropNextArchive makes the next archive download send afterBytes bytes
// of the body and then close the connection. With sendLength the response
// has the full Content-Length, and without it the body is delimited by the
// connection close, so only the archive itself shows that it is cut short.
func (s *Server) DropNextArchive(afterBytes int, sendLength bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = &dropState{afterBytes: afterBytes, sendLength: sendLength}
}

// Requests returns the number of requests received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// ArchiveRequests returns the number of archive downloads received, which
// excludes the /tarball/ requests that redirect to them.
func (s *Server) ArchiveRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	count := 0
	for _, r := range s.requests {
		if strings.HasPrefix(r.Path, codeloadPrefix) {
			count++
		}
	}
	return count
}

// RequestLog returns a copy of the requests received, oldest first.
func (s *Server) RequestLog() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// codeloadPrefix is the path under which the fake serves archives, in the
// layout of GitHub's archive host.
const codeloadPrefix = "/_codeload/"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}/releases", s.api(s.handleReleases))
	mux.HandleFunc("GET /repos/{owner}/{repo}/releases/latest", s.api(s.handleLatest))
	mux.HandleFunc("GET /repos/{owner}/{repo}/releases/tags/{tag...}", s.api(s.handleReleaseByTag))
	mux.HandleFunc("GET /repos/{owner}/{repo}/tags", s.api(s.handleTags))
	mux.HandleFunc("GET /repos/{owner}/{repo}/tarball/{ref...}", s.api(s.handleTarball))
	mux.HandleFunc("GET "+codeloadPrefix+"{owner}/{repo}/legacy.tar.gz/refs/tags/{tag...}", s.handleArchive)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeNotFound(w) })
	return s.record(mux)
}

// record logs every request before routing it.
func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, Request{
			Method:        r.Method,
			Path:          r.URL.Path,
			RawQuery:      r.URL.RawQuery,
			Authorization: r.Header.Get("Authorization"),
		})
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// api wraps a repository endpoint with the rate limit, token and
// repository checks. The handler runs with s.mu held.
func (s *Server) api(handler func(w http.ResponseWriter, r *http.Request, repo *fakeRepo)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.rateLimitedLocked(w) {
			return
		}
		if !s.authorizedLocked(w, r) {
			return
		}
		writeRateHeaders(w, 5000, 4999, time.Now().Add(time.Hour))
		repo, ok := s.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
		if !ok {
			writeNotFound(w)
			return
		}
		handler(w, r, repo)
	}
}

func (s *Server) rateLimitedLocked(w http.ResponseWriter) bool {
	if s.limit.remaining <= 0 {
		return false
	}
	s.limit.remaining--
	if s.limit.secondary {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.limit.retryAfter/time.Second)))
		writeJSON(w, s.limit.status, errorBody{
			Message:          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			DocumentationURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
		return true
	}
	writeRateHeaders(w, 60, 0, s.limit.reset)
	writeJSON(w, s.limit.status, errorBody{
		Message:          "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit.)",
		DocumentationURL: "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
	})
	return true
}

func (s *Server) authorizedLocked(w http.ResponseWriter, r *http.Request) bool {
	if s.token == "" {
		return true
	}
	switch r.Header.Get("Authorization") {
	case "Bearer " + s.token, "token " + s.token:
		return true
	case "":
		writeNotFound(w)
	default:
		writeJSON(w, http.StatusUnauthorized, errorBody{Message: "Bad credentials", DocumentationURL: "https://docs.github.com/rest"})
	}
	return false
}

func writeRateHeaders(w http.ResponseWriter, limit, remaining int, reset time.Time) {
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	w.Header().Set("X-RateLimit-Used", strconv.Itoa(limit-remaining))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	w.Header().Set("X-RateLimit-Resource", "core")
}

// page returns the slice of n items that the per_page and page query
// parameters select (GitHub's defaults 30 and 1, per_page at most 100), and
// sets the Link header for the other pages.
func page(w http.ResponseWriter, r *http.Request, baseURL string, n int) (start, end int) {
	perPage := queryInt(r, "per_page", 30)
	perPage = min(max(perPage, 1), 100)
	current := max(queryInt(r, "page", 1), 1)
	last := max((n+perPage-1)/perPage, 1)

	var links []string
	link := func(p int, rel string) {
		u, _ := url.Parse(baseURL + r.URL.Path)
		q := r.URL.Query()
		q.Set("per_page", strconv.Itoa(perPage))
		q.Set("page", strconv.Itoa(p))
		u.RawQuery = q.Encode()
		links = append(links, fmt.Sprintf("<%s>; rel=%q", u, rel))
	}
	if current < last {
		link(current+1, "next")
		link(last, "last")
	}
	if current > 1 {
		link(1, "first")
		link(min(current-1, last), "prev")
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}

	start = min((current-1)*perPage, n)
	end = min(start+perPage, n)
	return start, end
}

func queryInt(r *http.Request, name string, fallback int) int {
	v, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil {
		return fallback
	}
	return v
}

// newestFirst returns the releases of repo, newest first, as GitHub lists them.
func newestFirst(repo *fakeRepo) []*fakeRelease {
	releases := append([]*fakeRelease(nil), repo.releases...)
	sort.SliceStable(releases, func(i, j int) bool { return releases[i].createdAt.After(releases[j].createdAt) })
	return releases
}
