// Package github finds an app release on GitHub or GitHub Enterprise and
// downloads its source tarball into a local cache. It never prints, and it
// sends the token only in the Authorization header, and only to the API host
// and to the archive host that the API redirects to.
package github

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	gh "github.com/google/go-github/v57/github"
)

// DefaultAPIURL is the REST API base URL of github.com.
const DefaultAPIURL = "https://api.github.com/"

// defaultUserAgent identifies otaflash to GitHub, which rejects requests
// without a User-Agent header.
const defaultUserAgent = "otaflash"

// responseHeaderTimeout bounds the wait for response headers when the
// caller gives no HTTPClient. Reading the body is bounded only by the context.
const responseHeaderTimeout = 60 * time.Second

// Options configures a Client. The zero value talks to github.com without a
// token.
type Options struct {
	// Token is a GitHub token sent as "Authorization: Bearer <token>". It is
	// optional for public repositories and raises the rate limit.
	Token string
	// APIURL is the REST API base URL: DefaultAPIURL when empty, or
	// "https://HOST/api/v3/" for GitHub Enterprise Server.
	APIURL string
	// HTTPClient is copied, and its Transport wrapped to add the token. When
	// nil, a client with a 60 s response header timeout is used.
	HTTPClient *http.Client
	// CacheDir is the folder for downloaded tarballs. When empty it is
	// os.UserCacheDir()/otaflash.
	CacheDir string
	// UserAgent is the User-Agent header of every request, "otaflash" when empty.
	UserAgent string
}

// Client looks up releases and downloads tarballs. It is safe for
// concurrent use.
type Client struct {
	api        *gh.Client
	httpClient *http.Client // the copied client with the token transport
	apiURL     *url.URL
	token      string
	userAgent  string
	cacheDir   string
	cacheErr   error // why the default cache folder is unknown, if it is
}

// New returns a Client for opts, or an error if opts.APIURL is invalid.
func New(opts Options) (*Client, error) {
	apiURL, err := parseAPIURL(opts.APIURL)
	if err != nil {
		return nil, err
	}
	c := &Client{apiURL: apiURL, token: opts.Token, userAgent: opts.UserAgent, cacheDir: opts.CacheDir}
	if c.userAgent == "" {
		c.userAgent = defaultUserAgent
	}
	if c.cacheDir == "" {
		c.cacheDir, c.cacheErr = defaultCacheDir()
	}

	c.httpClient = copyHTTPClient(opts.HTTPClient)
	c.httpClient.Transport = &tokenTransport{
		base:    c.httpClient.Transport,
		token:   opts.Token,
		origins: []string{origin(apiURL)},
	}
	c.api = gh.NewClient(c.httpClient)
	c.api.BaseURL = apiURL
	c.api.UserAgent = c.userAgent
	return c, nil
}

// parseAPIURL checks an API base URL and adds the trailing slash that
// go-github requires.
func parseAPIURL(raw string) (*url.URL, error) {
	if raw == "" {
		raw = DefaultAPIURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("invalid GitHub API URL %q: use https://api.github.com/ or https://HOST/api/v3/", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid GitHub API URL %s://%s%s: remove the user info, query and fragment, and pass a token in Options.Token", u.Scheme, u.Host, u.Path)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

func defaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache folder: %w; set a cache folder explicitly", err)
	}
	return filepath.Join(base, "otaflash"), nil
}

// copyHTTPClient returns a copy of client, or a new client when it is nil,
// so that wrapping its Transport leaves the caller's client unchanged.
func copyHTTPClient(client *http.Client) *http.Client {
	if client != nil {
		copied := *client
		return &copied
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = responseHeaderTimeout
	return &http.Client{Transport: transport}
}

// repoNamePattern matches a GitHub owner or repository name: letters,
// digits, '-', '_' and '.'.
var repoNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ParseRepo splits "owner/name" as given to --repo.
func ParseRepo(s string) (owner, repo string, err error) {
	owner, repo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || checkRepo(owner, repo) != nil {
		return "", "", fmt.Errorf("--repo must be owner/name, got %q", s)
	}
	return owner, repo, nil
}

// checkRepo rejects an owner or repository name that GitHub would not
// accept, which also keeps it safe as a URL path segment and a folder name.
func checkRepo(owner, repo string) error {
	for _, name := range []string{owner, repo} {
		if !repoNamePattern.MatchString(name) || name == "." || name == ".." {
			return fmt.Errorf("invalid repository %q: use owner/name, such as octocat/hello-world", owner+"/"+repo)
		}
	}
	return nil
}
