package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/otaflash/otaflash/pkg/staging"
)

// progressPrinter shows staging progress on stderr: one redrawn line on a
// terminal, one line per file otherwise.
type progressPrinter struct {
	w        io.Writer
	terminal bool
	start    time.Time
	lastDraw time.Time
	drawn    bool
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	terminal := false
	if f, ok := w.(*os.File); ok {
		terminal = term.IsTerminal(int(f.Fd()))
	}
	return &progressPrinter{w: w, terminal: terminal, start: time.Now()}
}

func (p *progressPrinter) update(pr staging.Progress) {
	elapsed := time.Since(p.start)
	if !p.terminal {
		if pr.FileDone {
			what := "sent"
			if pr.Kept {
				what = "already on the board, copied"
			}
			fmt.Fprintf(p.w, "[%d/%d] %s: %s (%s of %s)\n", pr.Index, pr.Files, pr.File, what, kb(pr.Done), kb(pr.Total))
		}
		return
	}
	if time.Since(p.lastDraw) < 100*time.Millisecond && pr.Done < pr.Total {
		return
	}
	p.lastDraw = time.Now()
	rate := float64(pr.Done) / elapsed.Seconds()
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(pr.Total-pr.Done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r[%d/%d] %s  %s/%s  %.1f KB/s  ETA %s\x1b[K", pr.Index, pr.Files, pr.File, kb(pr.Done), kb(pr.Total), rate/1000, eta)
	p.drawn = true
}

// finish ends the redrawn line.
func (p *progressPrinter) finish() {
	if p.terminal && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// kb formats a byte count in B, KB or MB (powers of 1000).
func kb(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000_000:
		return fmt.Sprintf("%.1f KB", float64(n)/1000)
	}
	return fmt.Sprintf("%.2f MB", float64(n)/1000_000)
}
