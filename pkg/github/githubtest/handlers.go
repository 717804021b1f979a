package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// errorBody is GitHub's JSON error body.
type errorBody struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
}

// releaseJSON has the fields of GitHub's release object that clients read.
type releaseJSON struct {
	URL             string     `json:"url"`
	HTMLURL         string     `json:"html_url"`
	TarballURL      string     `json:"tarball_url"`
	ZipballURL      string     `json:"zipball_url"`
	ID              int64      `json:"id"`
	TagName         string     `json:"tag_name"`
	TargetCommitish string     `json:"target_commitish"`
	Name            string     `json:"name"`
	Body            string     `json:"body"`
	Draft           bool       `json:"draft"`
	Prerelease      bool       `json:"prerelease"`
	CreatedAt       time.Time  `json:"created_at"`
	PublishedAt     *time.Time `json:"published_at"`
	Assets          []struct{} `json:"assets"`
}

// tagJSON is GitHub's tag object.
type tagJSON struct {
	Name       string `json:"name"`
	ZipballURL string `json:"zipball_url"`
	TarballURL string `json:"tarball_url"`
	Commit     struct {
		SHA string `json:"sha"`
		URL string `json:"url"`
	} `json:"commit"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func writeNotFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, errorBody{Message: "Not Found", DocumentationURL: "https://docs.github.com/rest"})
}

func (s *Server) repoURL(repo *fakeRepo) string {
	return s.srv.URL + "/repos/" + repo.owner + "/" + repo.name
}

func (s *Server) releaseJSON(repo *fakeRepo, rel *fakeRelease) releaseJSON {
	repoURL := s.repoURL(repo)
	escapedTag := url.PathEscape(rel.tag)
	out := releaseJSON{
		URL:             repoURL + "/releases/" + strconv.FormatInt(rel.id, 10),
		HTMLURL:         s.srv.URL + "/" + repo.owner + "/" + repo.name + "/releases/tag/" + escapedTag,
		TarballURL:      repoURL + "/tarball/" + escapedTag,
		ZipballURL:      repoURL + "/zipball/" + escapedTag,
		ID:              rel.id,
		TagName:         rel.tag,
		TargetCommitish: "main",
		Name:            rel.tag,
		Body:            rel.opts.Notes,
		Draft:           rel.opts.Draft,
		Prerelease:      rel.opts.Prerelease,
		CreatedAt:       rel.createdAt,
		Assets:          []struct{}{},
	}
	if !rel.opts.Draft {
		published := rel.createdAt
		out.PublishedAt = &published
	}
	return out
}

// handleReleases lists releases, drafts included as GitHub does for a
// token with push access, newest first.
func (s *Server) handleReleases(w http.ResponseWriter, r *http.Request, repo *fakeRepo) {
	var releases []releaseJSON
	for _, rel := range newestFirst(repo) {
		if !rel.opts.NoRelease {
			releases = append(releases, s.releaseJSON(repo, rel))
		}
	}
	start, end := page(w, r, s.srv.URL, len(releases))
	writeJSON(w, http.StatusOK, append([]releaseJSON{}, releases[start:end]...))
}

// handleLatest returns the newest published release that is not a
// prerelease.
func (s *Server) handleLatest(w http.ResponseWriter, r *http.Request, repo *fakeRepo) {
	for _, rel := range newestFirst(repo) {
		if !rel.opts.NoRelease && !rel.opts.Draft && !rel.opts.Prerelease {
			writeJSON(w, http.StatusOK, s.releaseJSON(repo, rel))
			return
		}
	}
	writeNotFound(w)
}

func (s *Server) handleReleaseByTag(w http.ResponseWriter, r *http.Request, repo *fakeRepo) {
	rel := findTag(repo, r.PathValue("tag"))
	if rel == nil || rel.opts.NoRelease || rel.opts.Draft {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.releaseJSON(repo, rel))
}

// handleTags lists the tags, newest first. A draft release has no tag.
func (s *Server) handleTags(w http.ResponseWriter, r *http.Request, repo *fakeRepo) {
	var tags []tagJSON
	for _, rel := range newestFirst(repo) {
		if rel.opts.Draft {
			continue
		}
		tag := tagJSON{
			Name:       rel.tag,
			ZipballURL: s.repoURL(repo) + "/zipball/refs/tags/" + url.PathEscape(rel.tag),
			TarballURL: s.repoURL(repo) + "/tarball/refs/tags/" + url.PathEscape(rel.tag),
		}
		tag.Commit.SHA = rel.sha
		tag.Commit.URL = s.repoURL(repo) + "/commits/" + rel.sha
		tags = append(tags, tag)
	}
	start, end := page(w, r, s.srv.URL, len(tags))
	writeJSON(w, http.StatusOK, append([]tagJSON{}, tags[start:end]...))
}

// handleTarball redirects to the archive path with 302, as GitHub does. An
// authenticated request gets ArchiveURLToken in the query.
func (s *Server) handleTarball(w http.ResponseWriter, r *http.Request, repo *fakeRepo) {
	ref := strings.TrimPrefix(r.PathValue("ref"), "refs/tags/")
	rel := findTag(repo, ref)
	if rel == nil || rel.opts.Draft {
		writeNotFound(w)
		return
	}
	location := s.srv.URL + codeloadPrefix + repo.owner + "/" + repo.name + "/legacy.tar.gz/refs/tags/" + (&url.URL{Path: rel.tag}).EscapedPath()
	if r.Header.Get("Authorization") != "" {
		location += "?token=" + ArchiveURLToken
	}
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusFound)
}

// handleArchive serves a tarball, or cuts it short after DropNextArchive.
func (s *Server) handleArchive(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	repo := s.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
	var rel *fakeRelease
	if repo != nil {
		rel = findTag(repo, r.PathValue("tag"))
	}
	drop := s.drop
	s.drop = nil
	private := s.token != "" && r.URL.Query().Get("token") != ArchiveURLToken &&
		r.Header.Get("Authorization") != "Bearer "+s.token
	s.mu.Unlock()

	if rel == nil || rel.opts.Draft || private {
		http.Error(w, "404: Not Found", http.StatusNotFound)
		return
	}
	filename := repo.owner + "-" + repo.name + "-" + rel.sha[:7] + ".tar.gz"
	if drop != nil {
		s.writeCutArchive(w, rel.archive, filename, drop)
		return
	}
	w.Header().Set("Content-Type", "application/x-gzip")
	w.Header().Set("Content-Disposition", "attachment; filename="+filename)
	w.Header().Set("Content-Length", strconv.Itoa(len(rel.archive)))
	w.Write(rel.archive)
}

// writeCutArchive writes the response by hand on the hijacked connection
// and closes it after drop.afterBytes bytes of the body.
func (s *Server) writeCutArchive(w http.ResponseWriter, archive []byte, filename string, drop *dropState) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.t.Errorf("githubtest: hijacking the archive connection: %v", err)
		return
	}
	defer conn.Close()

	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/x-gzip\r\n")
	fmt.Fprintf(buf, "Content-Disposition: attachment; filename=%s\r\n", filename)
	if drop.sendLength {
		fmt.Fprintf(buf, "Content-Length: %d\r\n", len(archive))
	}
	fmt.Fprintf(buf, "Connection: close\r\n\r\n")
	buf.Write(archive[:min(drop.afterBytes, len(archive))])
	buf.Flush()
}

func findTag(repo *fakeRepo, tag string) *fakeRelease {
	for _, rel := range repo.releases {
		if rel.tag == tag {
			return rel
		}
	}
	return nil
}
