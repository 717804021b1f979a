package github

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	gh "github.com/google/go-github/v57/github"
)

// maxRedirects is the number of redirects the archive download follows.
const maxRedirects = 5

// Download returns the path of the source tarball of rel.Tag, at
// CacheDir/owner/repo/<tag>.tar.gz. A cached file is returned without any
// request. Otherwise Download asks the API for the archive link (one
// request, which GitHub answers with a redirect to its archive host) and
// downloads it into a temporary file. The file becomes the cache entry only
// when the gzip stream and the tar archive inside it are complete.
//
// progress, if not nil, is called with the bytes received so far and the
// total, which is -1 when the server does not send a length.
func (c *Client) Download(ctx context.Context, owner, repo string, rel Release, progress func(done, total int64)) (string, error) {
	if err := checkRepo(owner, repo); err != nil {
		return "", err
	}
	if rel.Tag == "" {
		return "", errors.New("release has no tag: call Resolve first")
	}
	if c.cacheErr != nil {
		return "", c.cacheErr
	}

	// NOTE: the cache is keyed by tag name only, so a tag that is moved to
	// another commit keeps serving the old archive until the file is deleted.
	path := filepath.Join(c.cacheDir, owner, repo, url.PathEscape(rel.Tag)+".tar.gz")
	if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
		if progress != nil {
			progress(info.Size(), info.Size())
		}
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("creating cache folder: %w", err)
	}

	link, err := c.archiveLink(ctx, owner, repo, rel.Tag)
	if err != nil {
		return "", err
	}
	if err := c.downloadFile(ctx, link, path, progress); err != nil {
		return "", fmt.Errorf("downloading %s of %s/%s: %w", rel.Tag, owner, repo, err)
	}
	return path, nil
}

// archiveLink asks the API for the tarball URL of tag.
func (c *Client) archiveLink(ctx context.Context, owner, repo, tag string) (*url.URL, error) {
	// GetArchiveLink puts the ref into the path as it is, so escape what
	// a tag may contain and a URL path may not, such as '#' or '?'.
	ref := (&url.URL{Path: tag}).EscapedPath()
	opts := &gh.RepositoryContentGetOptions{Ref: ref}
	link, resp, err := c.api.Repositories.GetArchiveLink(ctx, owner, repo, gh.Tarball, opts, 1)
	if err == nil {
		return link, nil
	}
	if resp != nil && resp.Response != nil {
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("no tarball of tag %s in %s/%s (404 Not Found); check that the tag exists, and set GITHUB_TOKEN for a private repository", tag, owner, repo)
		}
		if statusErr := statusError(resp.Response, owner, repo); statusErr != nil {
			return nil, statusErr
		}
	}
	return nil, fmt.Errorf("requesting the tarball link of %s in %s/%s: %w", tag, owner, repo, redactError(err))
}

// downloadFile downloads link into path through a temporary file in the
// same folder, so a partial download never appears at path.
func (c *Client) downloadFile(ctx context.Context, link *url.URL, path string, progress func(done, total int64)) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".download-*.tar.gz")
	if err != nil {
		return fmt.Errorf("creating temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	if err := c.fetch(ctx, link, tmp, progress); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := checkTarball(tmp); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("moving the download into the cache: %w", err)
	}
	return nil
}

// fetch writes the body of a GET of link to w. The token goes to the API
// host and the host of link, and redirects are followed only between them.
func (c *Client) fetch(ctx context.Context, link *url.URL, w io.Writer, progress func(done, total int64)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link.String(), nil)
	if err != nil {
		return fmt.Errorf("invalid archive URL %s: %w", redactURL(link.String()), err)
	}
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.archiveHTTPClient(link).Do(req)
	if err != nil {
		return redactError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: unexpected status %s", redactURL(resp.Request.URL.String()), resp.Status)
	}

	counter := &progressWriter{w: w, total: resp.ContentLength, progress: progress}
	if _, err := io.Copy(counter, resp.Body); err != nil {
		return fmt.Errorf("reading archive after %d bytes: %w", counter.done, redactError(err))
	}
	if resp.ContentLength >= 0 && counter.done != resp.ContentLength {
		return fmt.Errorf("archive ended after %d of %d bytes", counter.done, resp.ContentLength)
	}
	return nil
}

// archiveHTTPClient returns a copy of the client that also trusts the
// origin of link and rejects redirects to any other origin.
func (c *Client) archiveHTTPClient(link *url.URL) *http.Client {
	transport := c.httpClient.Transport.(*tokenTransport).withOrigin(link)
	client := *c.httpClient
	client.Transport = transport
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if !transport.trusts(req.URL) {
			return fmt.Errorf("archive download redirected to %s, which is neither the API host nor the archive host it named", redactURL(req.URL.String()))
		}
		return nil
	}
	return &client
}

// checkTarball reads the file from the start and returns an error unless it
// is a complete gzip stream that contains a readable tar archive. The gzip
// trailer's CRC-32 and length catch a body cut short without an HTTP error.
func checkTarball(f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("downloaded archive is not gzip: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("downloaded archive is incomplete or not a tarball: %w", err)
		}
	}
	// Read the rest of the gzip stream so that its checksum is verified.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("downloaded archive is incomplete: %w", err)
	}
	return nil
}

// progressWriter counts bytes written to w and reports them to progress.
type progressWriter struct {
	w        io.Writer
	done     int64
	total    int64
	progress func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.progress != nil && n > 0 {
		p.progress(p.done, p.total)
	}
	return n, err
}
