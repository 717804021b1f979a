package github

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	gh "github.com/google/go-github/v57/github"
)

// Query selects a version.
type Query struct {
	// Version is "" or "latest" for the newest version, an exact version such
	// as "1.2.0" or "v1.2.0", or a semver constraint such as "^1.2".
	Version string
	// Pre admits prereleases. An exact prerelease version is admitted
	// without it.
	Pre bool
}

// Release is the version that Resolve selected.
type Release struct {
	// Tag is the git tag, such as "v1.2.0".
	Tag string
	// Version is Tag parsed as semver.
	Version *semver.Version
	// Prerelease is true when GitHub marks the release as a prerelease or
	// the version has a prerelease part.
	Prerelease bool
	// Source is "release" for a GitHub release, or "tag" for a tag without
	// a usable release.
	Source string
	// Notes is the release body in Markdown, empty for a tag.
	Notes string
}

// Source values of Release.
const (
	SourceRelease = "release"
	SourceTag     = "tag"
)

// listPageSize is the number of items requested per page, the maximum that
// the GitHub REST API allows.
const listPageSize = 100

// maxListPages bounds pagination, so at most 10,000 releases or tags are read.
const maxListPages = 100

// matcher decides which versions a Query admits.
type matcher struct {
	exact      *semver.Version
	constraint *semver.Constraints
	pre        bool
}

// Resolve selects the release of owner/repo that q asks for. It lists the
// releases, drops drafts and, unless admitted, prereleases, keeps the tags
// that parse as semver with an optional "v" prefix, and returns the highest
// by semver precedence. When no release matches, it does the same with the
// repository's tags and returns one with Source "tag".
//
// Errors: ErrRepoNotFound (wrapped) for a 404, *RateLimitError,
// *VersionNotFoundError when q.Version matches nothing, and ErrNoRelease
// (wrapped) when q.Version is empty and nothing matches.
func (c *Client) Resolve(ctx context.Context, owner, repo string, q Query) (Release, error) {
	if err := checkRepo(owner, repo); err != nil {
		return Release{}, err
	}
	match, err := parseQuery(q)
	if err != nil {
		return Release{}, err
	}

	releases, err := c.listReleases(ctx, owner, repo)
	if err != nil {
		return Release{}, err
	}
	if best, ok := highest(releases, match); ok {
		return best, nil
	}
	tags, err := c.listTags(ctx, owner, repo)
	if err != nil {
		return Release{}, err
	}
	if best, ok := highest(tags, match); ok {
		return best, nil
	}
	return Release{}, notFoundError(owner+"/"+repo, q, match, append(releases, tags...))
}

// parseQuery turns q.Version into an exact version or a constraint.
func parseQuery(q Query) (matcher, error) {
	requested := strings.TrimSpace(q.Version)
	if requested == "" || requested == "latest" {
		return matcher{pre: q.Pre}, nil
	}
	if exact, err := semver.StrictNewVersion(strings.TrimPrefix(requested, "v")); err == nil {
		return matcher{exact: exact, pre: q.Pre || exact.Prerelease() != ""}, nil
	}
	constraint, err := semver.NewConstraint(requested)
	if err != nil {
		return matcher{}, fmt.Errorf("invalid version %q: use a version such as 1.2.0 or v1.2.0, or a constraint such as ^1.2: %w", q.Version, err)
	}
	constraint.IncludePrerelease = q.Pre
	return matcher{constraint: constraint, pre: q.Pre}, nil
}

func (m matcher) admits(r Release) bool {
	switch {
	case r.Prerelease && !m.pre:
		return false
	case m.exact != nil:
		return r.Version.Equal(m.exact)
	case m.constraint != nil:
		return m.constraint.Check(r.Version)
	}
	return true
}

// highest returns the admitted candidate with the highest version. Among
// equal versions the first candidate wins, so a release beats a tag.
func highest(candidates []Release, m matcher) (Release, bool) {
	var best Release
	found := false
	for _, candidate := range candidates {
		if !m.admits(candidate) {
			continue
		}
		if !found || candidate.Version.GreaterThan(best.Version) {
			best, found = candidate, true
		}
	}
	return best, found
}

// parseTag parses a tag as semver with an optional "v" prefix. Masterminds'
// NewVersion also accepts a short form such as "v1.2", read as 1.2.0.
func parseTag(tag string) (*semver.Version, bool) {
	v, err := semver.NewVersion(tag)
	return v, err == nil
}

func (c *Client) listReleases(ctx context.Context, owner, repo string) ([]Release, error) {
	var releases []Release
	opts := &gh.ListOptions{PerPage: listPageSize}
	for page := 0; page < maxListPages; page++ {
		batch, resp, err := c.api.Repositories.ListReleases(ctx, owner, repo, opts)
		if err != nil {
			return nil, apiError(err, owner, repo)
		}
		for _, r := range batch {
			if release, ok := fromRepositoryRelease(r); ok {
				releases = append(releases, release)
			}
		}
		if resp.NextPage <= opts.Page {
			break
		}
		opts.Page = resp.NextPage
	}
	return releases, nil
}

// fromRepositoryRelease converts a published release whose tag is semver.
func fromRepositoryRelease(r *gh.RepositoryRelease) (Release, bool) {
	if r.GetDraft() {
		return Release{}, false
	}
	version, ok := parseTag(r.GetTagName())
	if !ok {
		return Release{}, false
	}
	return Release{
		Tag:        r.GetTagName(),
		Version:    version,
		Prerelease: r.GetPrerelease() || version.Prerelease() != "",
		Source:     SourceRelease,
		Notes:      r.GetBody(),
	}, true
}

func (c *Client) listTags(ctx context.Context, owner, repo string) ([]Release, error) {
	var tags []Release
	opts := &gh.ListOptions{PerPage: listPageSize}
	for page := 0; page < maxListPages; page++ {
		batch, resp, err := c.api.Repositories.ListTags(ctx, owner, repo, opts)
		if err != nil {
			return nil, apiError(err, owner, repo)
		}
		for _, tag := range batch {
			if version, ok := parseTag(tag.GetName()); ok {
				tags = append(tags, Release{
					Tag:        tag.GetName(),
					Version:    version,
					Prerelease: version.Prerelease() != "",
					Source:     SourceTag,
				})
			}
		}
		if resp.NextPage <= opts.Page {
			break
		}
		opts.Page = resp.NextPage
	}
	return tags, nil
}

// notFoundError explains why nothing matched q.
func notFoundError(repo string, q Query, m matcher, all []Release) error {
	if m.exact == nil && m.constraint == nil {
		for _, r := range all {
			if r.Prerelease {
				return fmt.Errorf("%w in %s: it has only prereleases, such as %s; use --pre to admit them", ErrNoRelease, repo, r.Tag)
			}
		}
		return fmt.Errorf("%w in %s: it has no published release or tag that is a semver version such as v1.0.0", ErrNoRelease, repo)
	}
	return &VersionNotFoundError{Repo: repo, Requested: q.Version, Available: nearestTags(all, m)}
}

// maxNearest is the number of versions a VersionNotFoundError lists.
const maxNearest = 5

// nearestTags returns up to maxNearest tags, newest first. For an exact
// version they are the tags around it, and for a constraint the newest tags.
// Prereleases are listed only when the query admits them.
func nearestTags(all []Release, m matcher) []string {
	seen := map[string]bool{}
	var versions []Release
	for _, r := range all {
		if seen[r.Tag] || (r.Prerelease && !m.pre) {
			continue
		}
		seen[r.Tag] = true
		versions = append(versions, r)
	}
	sort.SliceStable(versions, func(i, j int) bool { return versions[i].Version.GreaterThan(versions[j].Version) })

	start := 0
	if m.exact != nil {
		// Centre a window of maxNearest on the first version below the request.
		below := sort.Search(len(versions), func(i int) bool { return versions[i].Version.LessThan(m.exact) })
		start = below - maxNearest/2
		start = min(start, len(versions)-maxNearest)
		start = max(start, 0)
	}
	end := min(start+maxNearest, len(versions))

	var tags []string
	for _, r := range versions[start:end] {
		tags = append(tags, r.Tag)
	}
	return tags
}
