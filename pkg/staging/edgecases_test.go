package staging_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otaflash/otaflash/pkg/repl"
	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/otaflash/otaflash/pkg/simboard/simtest"
	"github.com/otaflash/otaflash/pkg/staging"
)

// spoilingPort is a serial port that changes the board's reply to one
// command, as line noise would: once the host has written trigger, it flips
// the lowest bit of the next reply byte equal to target.
type spoilingPort struct {
	io.ReadWriteCloser
	trigger string
	target  byte

	mu      sync.Mutex
	written []byte
	armed   bool
	fired   bool
}

func (p *spoilingPort) Write(b []byte) (int, error) {
	p.mu.Lock()
	if !p.fired {
		p.written = append(p.written, b...)
		if bytes.Contains(p.written, []byte(p.trigger)) {
			p.armed = true
		}
		if keep := len(p.trigger); len(p.written) > keep {
			p.written = append(p.written[:0], p.written[len(p.written)-keep:]...)
		}
	}
	p.mu.Unlock()
	return p.ReadWriteCloser.Write(b)
}

func (p *spoilingPort) Read(b []byte) (int, error) {
	n, err := p.ReadWriteCloser.Read(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.armed && !p.fired {
		if i := bytes.IndexByte(b[:n], p.target); i >= 0 {
			b[i] ^= 1
			p.fired = true
		}
	}
	return n, err
}

// spoiled reports whether the port changed a reply byte.
func (p *spoilingPort) spoiled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fired
}

// openSession opens a new raw REPL session on board through wrap, with the
// given reply timeout. The session closes at the end of t.
func openSession(t *testing.T, board *simboard.Board, timeout time.Duration, wrap func(io.ReadWriteCloser) io.ReadWriteCloser) (*staging.Board, *repl.Conn) {
	t.Helper()
	port, err := repl.OpenSerial(board.Port(), 115200)
	if err != nil {
		t.Fatalf("OpenSerial: %v", err)
	}
	var rw io.ReadWriteCloser = port
	if wrap != nil {
		rw = wrap(port)
	}
	conn := repl.New(rw, repl.Options{Timeout: timeout})
	t.Cleanup(func() { conn.Close() })
	return staging.New(conn, staging.Options{}), conn
}

// TestKeepCopySpoiledReply flips one bit in the reply of the on-board copy
// (_kp): "=" becomes "<". Every other command whose reply the host parses
// (Inspect, the listing, the bootstrap) runs again after a spoiled reply,
// and running _kp again is harmless, so the update must still succeed.
func TestKeepCopySpoiledReply(t *testing.T) {
	t.Parallel()
	for _, fw := range firmwares {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fw)
			ctx := testContext(t)
			v1 := map[string][]byte{"main.py": []byte("v = 1\n"), "lib/util.py": pyModule("util", 900)}
			if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v1), Version: "1.0.0"}); err != nil {
				t.Fatalf("Update to 1.0.0: %v", err)
			}

			r.conn.Close()
			var port *spoilingPort
			stg, _ := openSession(t, r.board, 5*time.Second, func(rw io.ReadWriteCloser) io.ReadWriteCloser {
				port = &spoilingPort{ReadWriteCloser: rw, trigger: "_kp(", target: '='}
				return port
			})
			v2 := map[string][]byte{"main.py": []byte("v = 2\n"), "lib/util.py": v1["lib/util.py"]}
			_, err := stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v2), Version: "2.0.0"})
			if !port.spoiled() {
				t.Fatalf("the reply of _kp was never spoiled: the test no longer reaches the on-board copy")
			}
			if err != nil {
				t.Fatalf("Update to 2.0.0 after one spoiled _kp reply: %v", err)
			}
			checkInstalled(t, r.flash, v2, "2.0.0")
		})
	}
}

// writeHostFlash writes files under dir of a board's flash folder, before
// the board starts.
func writeHostFlash(t *testing.T, flash, dir string, files map[string][]byte) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(flash, dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeepCopyOutlastsTimeout updates an app of 12 files of 64 KB each,
// installed on a board with a 3 MB file system, where only main.py changed.
// One _kp command copies all 768 KB, which at the modelled flash write rate
// of 60 KB/s takes about 13 s, longer than the reply timeout of 10 s (the
// default of --timeout). The host then times out and sends _kp again while
// the board still runs the first one.
func TestKeepCopyOutlastsTimeout(t *testing.T) {
	t.Parallel()
	flash := t.TempDir()
	v1 := map[string][]byte{"main.py": []byte("v = 1\n")}
	for i := range 12 {
		v1[fmt.Sprintf("assets/blob%02d.bin", i)] = randomBytes(uint64(100+i), 64*1024)
	}
	installed := map[string][]byte{".version": []byte("1.0.0")}
	for name, body := range v1 {
		installed[name] = body
	}
	writeHostFlash(t, flash, "project", installed)
	board := simtest.Start(t, func(o *simboard.Options) {
		o.FlashDir = flash
		o.Firmware = "1.27"
		o.FlashSize = 3 << 20
	})
	stg, _ := openSession(t, board, 10*time.Second, nil)

	v2 := map[string][]byte{}
	for name, body := range v1 {
		v2[name] = body
	}
	v2["main.py"] = []byte("v = 2\n")
	ctx := testContext(t)
	start := time.Now()
	rep, err := stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v2), Version: "2.0.0"})
	t.Logf("Update took %v: copied %d, sent %d, %d bytes sent; %d bytes lost to UART overruns",
		time.Since(start).Round(time.Millisecond), rep.Stage.Copied, rep.Stage.Sent, rep.Stage.BytesSent, board.Stats().Overrun)
	if err != nil {
		t.Fatalf("Update to 2.0.0: %v", err)
	}
	if rep.Stage.Copied != len(v2)-1 {
		t.Errorf("Copied = %d, want %d: unchanged files went over the line", rep.Stage.Copied, len(v2)-1)
	}
	checkInstalled(t, flash, v2, "2.0.0")
}

// TestHelperCacheSpoiledDefineReply flips one bit in the reply to the first
// helper definition of a fresh board ("OK" becomes "OJ"), so the host runs
// the definition again. The cache must still hold each part once, so the
// next session loads it instead of sending the helpers.
func TestHelperCacheSpoiledDefineReply(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.13")
	r.conn.Close()
	ctx := testContext(t)
	var port *spoilingPort
	stg, conn := openSession(t, r.board, 5*time.Second, func(rw io.ReadWriteCloser) io.ReadWriteCloser {
		port = &spoilingPort{ReadWriteCloser: rw, trigger: "',1)", target: 'K'}
		return port
	})
	if _, err := stg.Inspect(ctx); err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if !port.spoiled() {
		t.Fatalf("no helper definition reply was spoiled: the first session loaded the helpers from a cache")
	}
	conn.Close()

	stg, _ = openSession(t, r.board, 5*time.Second, nil)
	start := r.board.Stats().HostToBoard
	if _, err := stg.Inspect(ctx); err != nil {
		t.Fatalf("Inspect in the second session: %v", err)
	}
	if sent := r.board.Stats().HostToBoard - start; sent > 1024 {
		t.Errorf("the second session sent %d bytes, want under 1 KB: the helper cache was dropped", sent)
	}
}

// TestKeepCopyDuplicateContent updates a release in which a kept file gains
// a twin with the same content at a new path. The board has that content
// at the kept path, so neither file needs the line.
func TestKeepCopyDuplicateContent(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	ctx := testContext(t)
	shared := pyModule("shared", 3000)
	v1 := map[string][]byte{"main.py": []byte("v = 1\n"), "lib/a.py": shared}
	if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v1), Version: "1.0.0"}); err != nil {
		t.Fatalf("Update to 1.0.0: %v", err)
	}
	v2 := map[string][]byte{"main.py": []byte("v = 2\n"), "lib/a.py": shared, "lib/b.py": shared}
	rep, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v2), Version: "2.0.0"})
	if err != nil {
		t.Fatalf("Update to 2.0.0: %v", err)
	}
	if rep.Stage.Copied != 2 {
		t.Errorf("Copied = %d, want 2 (lib/a.py and its twin lib/b.py); Sent = %d", rep.Stage.Copied, rep.Stage.Sent)
	}
	checkInstalled(t, r.flash, v2, "2.0.0")
}

// longName returns a path of n bytes, at least 130, of two-byte UTF-8
// letters in two folders, so that no name exceeds 128 bytes. The simulated
// board's flash stores a file under a temporary name that is 15 bytes
// longer than its own, and the host's limit is 255 bytes.
func longName(n int) string {
	first := "d/" + strings.Repeat("\u00fc", 60) + "/"
	name := first + strings.Repeat("\u00fc", (n-len(first)-3)/2) + ".py"
	return name + strings.Repeat("x", n-len(name))
}

// TestKeepCopyLongNames updates a release with a kept file and a changed
// file whose paths are 254 bytes of non-ASCII letters, one more than the
// binary receiver takes, in each transfer mode. Every command must stay
// within 1 KB, as the fresh-board test requires.
func TestKeepCopyLongNames(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{staging.TransferBinary, staging.TransferBase64} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "1.13")
			r.stg = staging.New(r.conn, staging.Options{Transfer: mode})
			ctx := testContext(t)
			unchanged, changed := longName(254), "e"+longName(253)
			v1 := map[string][]byte{unchanged: []byte("k = 1\n"), changed: []byte("c = 1\n")}
			if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v1), Version: "1.0.0"}); err != nil {
				t.Fatalf("Update to 1.0.0: %v", err)
			}
			v2 := map[string][]byte{unchanged: v1[unchanged], changed: []byte("c = 2\n")}
			if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v2), Version: "2.0.0"}); err != nil {
				t.Fatalf("Update to 2.0.0: %v", err)
			}
			checkInstalled(t, r.flash, v2, "2.0.0")
			if st := r.board.Stats(); st.LargestCommand > 1024 {
				t.Errorf("largest command = %d bytes, want at most 1024", st.LargestCommand)
			}
		})
	}
}

// pathSpoilingPort flips one bit in the first host write that carries
// needle, as line noise would, in the first byte of needle.
type pathSpoilingPort struct {
	io.ReadWriteCloser
	needle []byte

	mu    sync.Mutex
	fired bool
}

func (p *pathSpoilingPort) Write(b []byte) (int, error) {
	p.mu.Lock()
	if !p.fired {
		if i := bytes.Index(b, p.needle); i >= 0 {
			b = bytes.Clone(b)
			b[i] ^= 1
			p.fired = true
		}
	}
	p.mu.Unlock()
	return p.ReadWriteCloser.Write(b)
}

// TestBinaryPathSpoiled flips one bit in a path that the binary receiver
// reads, which would have it write the file under another name. The board
// must write no file under the spoiled name, and the update must still
// install exactly the release.
func TestBinaryPathSpoiled(t *testing.T) {
	t.Parallel()
	flash := t.TempDir()
	board := simtest.Start(t, func(o *simboard.Options) { o.FlashDir = flash })
	// The path travels after its 2-byte length, which only the binary
	// receiver sends; commands name it in quotes.
	needle := append([]byte{byte(len("lib/b.py")), 0}, "lib/b.py"...)
	spoiler := &pathSpoilingPort{needle: needle}
	stg, _ := openSession(t, board, 5*time.Second, func(rw io.ReadWriteCloser) io.ReadWriteCloser {
		spoiler.ReadWriteCloser = rw
		return spoiler
	})
	files := map[string][]byte{
		"main.py":  []byte("import b\n"),
		"lib/a.py": bytes.Repeat([]byte("a = 1\n"), 100),
		"lib/b.py": bytes.Repeat([]byte("b = 2\n"), 100),
		"lib/c.py": bytes.Repeat([]byte("c = 3\n"), 100),
	}
	if _, err := stg.Update(testContext(t), staging.UpdateRequest{Tree: writeTree(t, files), Version: "1.0.0"}); err != nil {
		t.Fatalf("Update with a spoiled path: %v", err)
	}
	if !spoiler.fired {
		t.Fatalf("no path was spoiled: the binary receiver no longer sends lib/b.py after its length")
	}
	checkInstalled(t, flash, files, "1.0.0")
}

// TestUnclosedWriteIsClosedFirst leaves a staged file written but not
// closed, as a run that failed before _cl does. Flash file systems such as
// littlefs commit a file only when it is closed, so the next run must close
// it before it reads the board's state and keeps the file.
func TestUnclosedWriteIsClosedFirst(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	ctx := testContext(t)
	r.stg = staging.New(r.conn, staging.Options{Transfer: staging.TransferBase64})
	v1 := map[string][]byte{"main.py": []byte("v = 1\n")}
	if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v1), Version: "1.0.0"}); err != nil {
		t.Fatalf("Update to 1.0.0: %v", err)
	}
	v2 := map[string][]byte{"main.py": []byte("v = 2\n"), "a.py": []byte("a = 2\n")}
	code := "_mk('/next')\nf=open('/next/.version_on_reboot','w')\nf.write('2.0.0')\nf.close()\n" +
		"_op('/next/a.py')\n_wr('" + base64.StdEncoding.EncodeToString(v2["a.py"]) + "')"
	if _, err := r.conn.Exec(ctx, code); err != nil {
		t.Fatalf("leaving a.py open: %v", err)
	}
	r.connect()
	if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v2), Version: "2.0.0"}); err != nil {
		t.Fatalf("Update to 2.0.0: %v", err)
	}
	checkInstalled(t, r.flash, v2, "2.0.0")
}

// replySpoilingPort flips the lowest bit of the last byte of needle, the
// first time it arrives from the board, even split across reads.
type replySpoilingPort struct {
	io.ReadWriteCloser
	needle []byte

	mu    sync.Mutex
	tail  []byte
	fired bool
}

func (p *replySpoilingPort) Read(b []byte) (int, error) {
	n, err := p.ReadWriteCloser.Read(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fired || n == 0 {
		return n, err
	}
	seen := append(p.tail, b[:n]...)
	if i := bytes.Index(seen, p.needle); i >= 0 {
		// The match completes in this read, so its last byte is here.
		b[i+len(p.needle)-1-len(p.tail)] ^= 1
		p.fired = true
	}
	p.tail = append([]byte(nil), seen[max(0, len(seen)-len(p.needle)+1):]...)
	return n, err
}

// TestSpoiledStateIsReadAgain flips one bit in the board's state reply,
// which still parses as JSON, and checks that Inspect reads it again
// instead of returning the changed value.
func TestSpoiledStateIsReadAgain(t *testing.T) {
	t.Parallel()
	board := simtest.Start(t, func(o *simboard.Options) { o.FlashDir = t.TempDir() })
	// The JSON's "1.27.0" becomes "1.27.1"; the quote keeps the banner's
	// "v1.27.0" out of the match.
	spoiler := &replySpoilingPort{needle: []byte(`"1.27.0`)}
	stg, _ := openSession(t, board, 5*time.Second, func(rw io.ReadWriteCloser) io.ReadWriteCloser {
		spoiler.ReadWriteCloser = rw
		return spoiler
	})
	st, err := stg.Inspect(testContext(t))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if !spoiler.fired {
		t.Fatalf("the state reply was not spoiled")
	}
	if st.Firmware != "1.27.0" {
		t.Errorf("Firmware = %q, want 1.27.0 read again after the spoiled reply", st.Firmware)
	}
}
