package staging_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/otaflash/otaflash/pkg/staging"
)

// TestHelperCache checks that a later session loads the helpers from the
// board's flash instead of sending them. A damaged, truncated or repeated
// cache, or one with a record of another version, is written again.
func TestHelperCache(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	ctx := testContext(t)
	cachePath := filepath.Join(r.flash, "otaflash_helpers.py")

	start := r.board.Stats().HostToBoard
	if _, err := r.stg.Inspect(ctx); err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	first := r.board.Stats().HostToBoard - start
	cache, err := os.ReadFile(cachePath)
	if err != nil {
		t.Fatalf("the first session wrote no helper cache: %v", err)
	}
	if !regexp.MustCompile(`^#[0-9a-f]{8} [0-9]+\n`).Match(cache) {
		t.Fatalf("helper cache starts with %q, want a record header", cache[:min(len(cache), 40)])
	}

	// A later session sends a short loader, not the helpers.
	r.connect()
	start = r.board.Stats().HostToBoard
	if _, err := r.stg.Inspect(ctx); err != nil {
		t.Fatalf("Inspect with the cache: %v", err)
	}
	later := r.board.Stats().HostToBoard - start
	t.Logf("host to board: first session %d bytes, with the cache %d bytes", first, later)
	if later > 1024 || later*4 > first {
		t.Errorf("the session with the cache sent %d bytes (the first sent %d), want under 1 KB", later, first)
	}

	damages := []struct {
		name, code string
	}{
		{"a flipped bit in the last record", "f=open(p,'rb');d=bytearray(f.read());f.close();d[-3]^=1\nf=open(p,'wb');f.write(d);f.close()"},
		{"a flipped bit in the bootstrap", "f=open(p,'rb');d=bytearray(f.read());f.close();d[40]^=1\nf=open(p,'wb');f.write(d);f.close()"},
		{"a record of another version", "f=open(p,'ab');f.write(b'#deadbeef 6\\nz = 1\\n');f.close()"},
		{"every record twice", "f=open(p,'rb');d=f.read();f.close()\nf=open(p,'ab');f.write(d);f.close()"},
		{"a file cut short", "f=open(p,'rb');d=f.read();f.close()\nf=open(p,'wb');f.write(d[:len(d)//2]);f.close()"},
	}
	for _, d := range damages {
		if _, err := r.conn.Exec(ctx, "p='/otaflash_helpers.py'\n"+d.code); err != nil {
			t.Fatalf("%s: damaging the cache: %v", d.name, err)
		}
		r.connect()
		if _, err := r.stg.Inspect(ctx); err != nil {
			t.Errorf("%s: Inspect: %v", d.name, err)
			continue
		}
		got, err := os.ReadFile(cachePath)
		if err != nil || !bytes.Equal(got, cache) {
			t.Errorf("%s: the cache was not written anew (%d bytes, want %d; %v)", d.name, len(got), len(cache), err)
		}
	}
	out, err := r.conn.Exec(ctx, "print('z' in globals())")
	if err != nil || string(bytes.TrimSpace(out)) != "False" {
		t.Errorf("a record of another version ran: %q, %v", out, err)
	}

	// An update after all that still stages and verifies.
	tree := writeTree(t, map[string][]byte{"main.py": []byte("v = 1\n")})
	if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: tree, Version: "1.0.0"}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	checkInstalled(t, r.flash, map[string][]byte{"main.py": []byte("v = 1\n")}, "1.0.0")
}

// TestUpdateKeepsMovedAndSwappedFiles updates a release whose file names
// need escaping: one file changed, one moved into a folder and two that
// swapped contents. Only the changed one goes over the line.
func TestUpdateKeepsMovedAndSwappedFiles(t *testing.T) {
	t.Parallel()
	for _, fw := range firmwares {
		t.Run("firmware "+fw, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fw)
			ctx := testContext(t)
			v1 := hardFiles(t)
			if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v1), Version: "1.0.0"}); err != nil {
				t.Fatalf("Update to 1.0.0: %v", err)
			}
			v2 := map[string][]byte{}
			for name, body := range v1 {
				v2[name] = body
			}
			v2["main.py"] = []byte("print('app 2')\n")
			v2["ünïcødé/O'zbek.txt"] = v1["O'zbek.txt"]
			delete(v2, "O'zbek.txt")
			v2[`a"b.py`], v2["with space.py"] = v1["with space.py"], v1[`a"b.py`]
			rep, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, v2), Version: "1.1.0"})
			if err != nil {
				t.Fatalf("Update to 1.1.0: %v", err)
			}
			if rep.Stage.Sent != 1 || rep.Stage.Copied != len(v2)-1 {
				t.Errorf("Sent = %d, Copied = %d; want 1 sent (main.py) and %d copied", rep.Stage.Sent, rep.Stage.Copied, len(v2)-1)
			}
			checkInstalled(t, r.flash, v2, "1.1.0")
		})
	}
}

// TestPowerCutWhileCaching cuts the power while the first session writes
// the helper cache, at each record, and checks that the next session
// updates the board and leaves a cache that a third session uses.
func TestPowerCutWhileCaching(t *testing.T) {
	t.Parallel()
	for k := 1; k <= 7; k++ {
		t.Run(fmt.Sprintf("write %d", k), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "1.27", func(o *simboard.Options) { o.CutDowntime = -1 })
			ctx := testContext(t)
			if err := r.board.CutAt("write", k); err != nil {
				t.Fatal(err)
			}
			if _, err := r.stg.Inspect(ctx); err == nil {
				t.Fatalf("Inspect succeeded on a board without power")
			}
			if err := r.board.PowerOn(); err != nil {
				t.Fatal(err)
			}
			if err := r.board.WaitBoot(ctx, 2); err != nil {
				t.Fatal(err)
			}
			r.connect()
			files := map[string][]byte{"main.py": []byte("v = 1\n")}
			if _, err := r.stg.Update(ctx, staging.UpdateRequest{Tree: writeTree(t, files), Version: "1.0.0"}); err != nil {
				t.Fatalf("Update after the cut: %v", err)
			}
			checkInstalled(t, r.flash, files, "1.0.0")

			r.connect()
			start := r.board.Stats().HostToBoard
			if _, err := r.stg.Inspect(ctx); err != nil {
				t.Fatalf("Inspect after the update: %v", err)
			}
			if sent := r.board.Stats().HostToBoard - start; sent > 1024 {
				t.Errorf("the session after the update sent %d bytes, want the cache used (under 1 KB)", sent)
			}
		})
	}
}
