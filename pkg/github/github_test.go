package github

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestParseRepo(t *testing.T) {
	tests := []struct {
		input     string
		wantOwner string
		wantRepo  string
		wantErr   string
	}{
		{input: "octo/app", wantOwner: "octo", wantRepo: "app"},
		{input: " my-org/my.app_2 ", wantOwner: "my-org", wantRepo: "my.app_2"},
		{input: "x", wantErr: `--repo must be owner/name, got "x"`},
		{input: "", wantErr: `--repo must be owner/name, got ""`},
		{input: "octo/", wantErr: `got "octo/"`},
		{input: "/app", wantErr: `got "/app"`},
		{input: "octo/app/extra", wantErr: `got "octo/app/extra"`},
		{input: "octo/..", wantErr: `got "octo/.."`},
		{input: "octo/a b", wantErr: `got "octo/a b"`},
		{input: "https://github.com/octo/app", wantErr: `got "https://github.com/octo/app"`},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			owner, repo, err := ParseRepo(tt.input)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseRepo(%q) error = %v, want one containing %q", tt.input, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRepo(%q): %v", tt.input, err)
			}
			if owner != tt.wantOwner || repo != tt.wantRepo {
				t.Errorf("ParseRepo(%q) = %q, %q, want %q, %q", tt.input, owner, repo, tt.wantOwner, tt.wantRepo)
			}
		})
	}
}

func TestNewAPIURL(t *testing.T) {
	tests := []struct {
		name    string
		apiURL  string
		wantURL string
		wantErr string
	}{
		{name: "default", apiURL: "", wantURL: "https://api.github.com/"},
		{name: "enterprise", apiURL: "https://ghe.example.com/api/v3", wantURL: "https://ghe.example.com/api/v3/"},
		{name: "no scheme", apiURL: "api.github.com", wantErr: "invalid GitHub API URL"},
		{name: "credentials in URL", apiURL: "https://user:pw@ghe.example.com/api/v3/", wantErr: "remove the user info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := New(Options{APIURL: tt.apiURL, CacheDir: t.TempDir()})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("New error = %v, want one containing %q", err, tt.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "pw") {
					t.Errorf("error %q contains the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := client.api.BaseURL.String(); got != tt.wantURL {
				t.Errorf("BaseURL = %s, want %s", got, tt.wantURL)
			}
		})
	}
}

func TestTokenTransportOnlyToTrustedOrigins(t *testing.T) {
	var got []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
	}))
	t.Cleanup(server.Close)
	serverURL, _ := url.Parse(server.URL)
	untrusted := &url.URL{Scheme: "http", Host: "localhost:" + serverURL.Port()}

	transport := &tokenTransport{token: "tok", origins: []string{origin(serverURL)}}
	tests := []struct {
		name     string
		target   string
		preset   string
		wantAuth string
	}{
		{name: "trusted origin", target: server.URL + "/x", wantAuth: "Bearer tok"},
		{name: "other host name", target: untrusted.String() + "/x", wantAuth: ""},
		{name: "preset header removed", target: untrusted.String() + "/x", preset: "Bearer leaked", wantAuth: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			req, _ := http.NewRequest(http.MethodGet, tt.target, nil)
			if tt.preset != "" {
				req.Header.Set("Authorization", tt.preset)
			}
			resp, err := transport.RoundTrip(req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			resp.Body.Close()
			if len(got) != 1 || got[0] != tt.wantAuth {
				t.Errorf("server saw Authorization %q, want %q", got, tt.wantAuth)
			}
			if req.Header.Get("Authorization") != tt.preset {
				t.Errorf("RoundTrip modified the caller's request")
			}
		})
	}
}

func TestOriginDefaultPorts(t *testing.T) {
	a, _ := url.Parse("https://API.github.com/repos")
	b, _ := url.Parse("https://api.github.com:443/")
	c, _ := url.Parse("http://api.github.com/")
	if origin(a) != origin(b) {
		t.Errorf("origin(%s) = %s, origin(%s) = %s, want equal", a, origin(a), b, origin(b))
	}
	if origin(a) == origin(c) {
		t.Errorf("origin of https and http URLs are both %s, want different", origin(a))
	}
}
