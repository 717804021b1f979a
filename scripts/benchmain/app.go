package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const (
	// minFiles is the smallest app: one text file to change and one blob.
	minFiles = 2
	// minFileSize is the smallest generated file in bytes.
	minFileSize = 64
	// blobShare is the fraction of the app's bytes in binary blobs.
	blobShare = 0.25
)

// appFile is one generated file of the app.
type appFile struct {
	path   string // slash-separated, relative to the app folder
	data   []byte
	binary bool
}

// app is a generated app in its first version. Changed indexes the text
// file that the second version changes.
type app struct {
	files   []appFile
	changed int
}

// generateApp builds an app of about size bytes in fileCount files, the same
// for the same seed: Python-like text files of varied size and a few blobs
// of random bytes, which neither compress nor look like text.
func generateApp(seed uint64, size, fileCount int) app {
	rng := rand.New(rand.NewPCG(seed, 0x6f7461666c617368))
	blobCount := max(1, fileCount/8)
	textCount := fileCount - blobCount
	blobBytes := int(float64(size) * blobShare)
	blobBytes = max(blobBytes, blobCount*minFileSize)
	blobBytes = min(blobBytes, size-textCount*minFileSize)
	textSizes := splitSize(rng, size-blobBytes, textCount)
	blobSizes := splitSize(rng, blobBytes, blobCount)

	var a app
	for i, n := range textSizes {
		a.files = append(a.files, appFile{path: textPath(i), data: pythonText(rng, n)})
	}
	for i, n := range blobSizes {
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		a.files = append(a.files, appFile{path: fmt.Sprintf("assets/blob%d.bin", i), data: data, binary: true})
	}
	a.changed = medianText(a.files)
	return a
}

// splitSize splits total into count random sizes of at least minFileSize
// that add up to total.
func splitSize(rng *rand.Rand, total, count int) []int {
	weights := make([]float64, count)
	var sum float64
	for i := range weights {
		weights[i] = 0.2 + rng.ExpFloat64()
		sum += weights[i]
	}
	spare := total - count*minFileSize
	sizes := make([]int, count)
	used := 0
	for i, w := range weights {
		sizes[i] = minFileSize + int(float64(spare)*w/sum)
		used += sizes[i]
	}
	sizes[0] += total - used // rounding remainder
	return sizes
}

// textPath spreads the text files over the app's root, lib/ and app/.
func textPath(i int) string {
	switch {
	case i == 0:
		return "main.py"
	case i%2 == 1:
		return fmt.Sprintf("lib/mod%02d.py", i)
	}
	return fmt.Sprintf("app/view%02d.py", i)
}

// pythonText returns exactly n bytes of Python-like source ending in a newline.
func pythonText(rng *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		k := rng.IntN(1000)
		switch rng.IntN(5) {
		case 0:
			fmt.Fprintf(&b, "\ndef handler_%d(event, state):\n", k)
		case 1:
			fmt.Fprintf(&b, "    state[%d] = event.value * %d + %d\n", k%16, k, rng.IntN(100))
		case 2:
			fmt.Fprintf(&b, "    # retry up to %d times before the watchdog fires\n", k%9+1)
		case 3:
			fmt.Fprintf(&b, "    log('sensor %d read %%s' %% (state.get(%d),))\n", k, k%16)
		default:
			fmt.Fprintf(&b, "LIMIT_%d = %d\n", k, rng.IntN(65536))
		}
	}
	text := b.Bytes()[:n]
	text[n-1] = '\n'
	return text
}

// medianText returns the index of the text file of median size.
func medianText(files []appFile) int {
	var text []int
	for i, f := range files {
		if !f.binary {
			text = append(text, i)
		}
	}
	slices.SortStableFunc(text, func(x, y int) int { return len(files[x].data) - len(files[y].data) })
	return text[len(text)/2]
}

// nextVersion returns the app's second version: the same files except the
// changed one, which gets one more line.
func (a app) nextVersion() app {
	next := app{files: slices.Clone(a.files), changed: a.changed}
	f := &next.files[a.changed]
	f.data = append(slices.Clone(f.data), []byte("CHANGED_IN_1_0_1 = True\n")...)
	return next
}

// size returns the app's total size in bytes.
func (a app) size() int64 {
	var n int64
	for _, f := range a.files {
		n += int64(len(f.data))
	}
	return n
}

// write writes the app's files under dir, creating folders as needed.
func (a app) write(dir string) error {
	for _, f := range a.files {
		full := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("writing the generated app: %w", err)
		}
		if err := os.WriteFile(full, f.data, 0o644); err != nil {
			return fmt.Errorf("writing the generated app: %w", err)
		}
	}
	return nil
}

// describe summarizes the app for the report.
func (a app) describe() string {
	var text, blobs int
	for _, f := range a.files {
		if f.binary {
			blobs++
		} else {
			text++
		}
	}
	changed := a.files[a.changed]
	return fmt.Sprintf("%d files, %d bytes: %d Python-like text files and %d random binary blobs (%s); version 1.0.1 changes %s (%d bytes, %d in 1.0.1)",
		len(a.files), a.size(), text, blobs, strings.Join(a.blobPaths(), ", "), changed.path, len(changed.data), len(a.nextVersion().files[a.changed].data))
}

func (a app) blobPaths() []string {
	var paths []string
	for _, f := range a.files {
		if f.binary {
			paths = append(paths, f.path)
		}
	}
	return paths
}
