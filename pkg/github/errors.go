package github

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v57/github"
)

// ErrRepoNotFound is returned, wrapped with the owner/name, when GitHub
// answers 404 for a repository. GitHub also answers 404 for a private
// repository when the token is missing or lacks access.
var ErrRepoNotFound = errors.New("repository not found")

// ErrNoRelease is returned, wrapped, when a repository has neither a usable
// release nor a semver tag.
var ErrNoRelease = errors.New("no release found")

// RateLimitError is returned when GitHub rejects a request because of its
// primary or secondary rate limit.
type RateLimitError struct {
	// Reset is when GitHub accepts requests again, or zero if unknown.
	Reset time.Time
	// Err is the underlying error.
	Err error
}

func (e *RateLimitError) Error() string {
	const hint = "set GITHUB_TOKEN to a personal access token for a higher limit"
	if e.Reset.IsZero() {
		return "GitHub API rate limit exceeded; try again later, or " + hint
	}
	wait := time.Until(e.Reset).Round(time.Second)
	if wait < 0 {
		wait = 0
	}
	return fmt.Sprintf("GitHub API rate limit exceeded until %s (in %s); wait, or %s",
		e.Reset.Local().Format("2006-01-02 15:04:05 MST"), wait, hint)
}

func (e *RateLimitError) Unwrap() error { return e.Err }

// VersionNotFoundError is returned when the requested version or constraint
// matches no release or tag.
type VersionNotFoundError struct {
	// Repo is "owner/name".
	Repo string
	// Requested is the version or constraint as given.
	Requested string
	// Available are the tags nearest to Requested, up to 5, newest first.
	Available []string
}

func (e *VersionNotFoundError) Error() string {
	if len(e.Available) == 0 {
		return fmt.Sprintf("version %q not found in %s, which has no semver releases or tags", e.Requested, e.Repo)
	}
	return fmt.Sprintf("version %q not found in %s; nearest available: %s",
		e.Requested, e.Repo, strings.Join(e.Available, ", "))
}

// apiError turns an error from a GitHub API call about owner/repo into
// ErrRepoNotFound, *RateLimitError or an error that names the repository.
func apiError(err error, owner, repo string) error {
	var limited *gh.RateLimitError
	if errors.As(err, &limited) {
		return &RateLimitError{Reset: limited.Rate.Reset.Time, Err: err}
	}
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &abuse) {
		limitErr := &RateLimitError{Err: err}
		if abuse.RetryAfter != nil {
			limitErr.Reset = time.Now().Add(*abuse.RetryAfter)
		}
		return limitErr
	}
	var response *gh.ErrorResponse
	if errors.As(err, &response) && response.Response != nil {
		if statusErr := statusError(response.Response, owner, repo); statusErr != nil {
			return statusErr
		}
	}
	return fmt.Errorf("querying GitHub for %s/%s: %w", owner, repo, redactError(err))
}

// statusError maps a failed API response to ErrRepoNotFound or
// *RateLimitError, or returns nil for other statuses.
func statusError(resp *http.Response, owner, repo string) error {
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s/%s; check --repo, and set GITHUB_TOKEN for a private repository", ErrRepoNotFound, owner, repo)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("GitHub rejected the token for %s/%s (401 Unauthorized); check GITHUB_TOKEN", owner, repo)
	case resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusForbidden && resp.Header.Get("X-RateLimit-Remaining") == "0":
		return &RateLimitError{Reset: rateLimitReset(resp.Header), Err: errors.New(resp.Status)}
	}
	return nil
}

// rateLimitReset reads the reset time from X-RateLimit-Reset (Unix seconds)
// or Retry-After (seconds), or returns zero.
func rateLimitReset(header http.Header) time.Time {
	if reset, err := strconv.ParseInt(header.Get("X-RateLimit-Reset"), 10, 64); err == nil && reset > 0 {
		return time.Unix(reset, 0)
	}
	if seconds, err := strconv.ParseInt(header.Get("Retry-After"), 10, 64); err == nil && seconds >= 0 {
		return time.Now().Add(time.Duration(seconds) * time.Second)
	}
	return time.Time{}
}

// redactError removes the query and user info from the URL of a
// *url.Error, which may carry an archive token.
func redactError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return &url.Error{Op: urlErr.Op, URL: redactURL(urlErr.URL), Err: urlErr.Err}
	}
	return err
}
