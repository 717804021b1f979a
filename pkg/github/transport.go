package github

import (
	"net/http"
	"net/url"
	"strings"
)

// tokenTransport adds "Authorization: Bearer <token>" to requests whose
// scheme and host match one of origins, and removes the header from all
// others, so a redirect never carries the token to another host or over a
// downgraded scheme.
type tokenTransport struct {
	base    http.RoundTripper // http.DefaultTransport when nil
	token   string
	origins []string // "scheme://host:port", lower case, as made by origin
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	send := t.token != "" && t.trusts(req.URL)
	if !send && req.Header.Get("Authorization") == "" {
		return base.RoundTrip(req)
	}

	// A RoundTripper must not modify the caller's request.
	req = req.Clone(req.Context())
	if send {
		req.Header.Set("Authorization", "Bearer "+t.token)
	} else {
		req.Header.Del("Authorization")
	}
	return base.RoundTrip(req)
}

func (t *tokenTransport) trusts(u *url.URL) bool {
	target := origin(u)
	for _, o := range t.origins {
		if o == target {
			return true
		}
	}
	return false
}

// withOrigin returns a copy of t that also trusts the origin of u.
func (t *tokenTransport) withOrigin(u *url.URL) *tokenTransport {
	origins := append([]string{origin(u)}, t.origins...)
	return &tokenTransport{base: t.base, token: t.token, origins: origins}
}

// origin returns "scheme://host:port" of u in lower case, with the default
// port made explicit so that "https://h" and "https://h:443" match.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// redactURL returns u without user info, query or fragment, for error
// messages: GitHub puts a short-lived token in the query of archive URLs of
// private repositories.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
