package staging_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otaflash/otaflash/pkg/simboard"
	"github.com/otaflash/otaflash/pkg/simboard/simtest"
	"github.com/otaflash/otaflash/pkg/staging"
)

func TestInstallRecoveryKeepsBootLines(t *testing.T) {
	t.Parallel()
	r := newRig(t, "1.27")
	ctx := testContext(t)
	userBoot := "# user's boot\nimport gc\ngc.collect()\n"
	if _, err := r.conn.Exec(ctx, "f = open('/boot.py', 'w')\nf.write("+pyQuote(userBoot)+")\nf.close()"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := r.stg.InstallRecovery(ctx); err != nil {
			t.Fatalf("InstallRecovery #%d: %v", i+1, err)
		}
	}
	boot := readFile(t, filepath.Join(r.flash, "boot.py"))
	if n := strings.Count(boot, "import otaflash_recover"); n != 1 {
		t.Errorf("boot.py imports the recovery %d times, want once:\n%s", n, boot)
	}
	if !strings.HasSuffix(boot, userBoot) {
		t.Errorf("boot.py lost the user's lines:\n%s", boot)
	}
	installed, err := r.stg.RecoveryInstalled(ctx)
	if err != nil || !installed {
		t.Errorf("RecoveryInstalled = %v, %v; want true", installed, err)
	}
	if err := r.stg.UninstallRecovery(ctx); err != nil {
		t.Fatalf("UninstallRecovery: %v", err)
	}
	if got := readFile(t, filepath.Join(r.flash, "boot.py")); got != userBoot {
		t.Errorf("boot.py after uninstall = %q, want %q", got, userBoot)
	}
	if _, err := os.Stat(filepath.Join(r.flash, "otaflash_recover.py")); !os.IsNotExist(err) {
		t.Errorf("otaflash_recover.py still present after uninstall: %v", err)
	}
}

func pyQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`, "\n", `\n`).Replace(s) + "'"
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	body, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// writeFlash lays out files on a board's flash folder before it boots.
func writeFlash(t *testing.T, flash string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(flash, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBootRecoveryFinishesOrRollsBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		flash       map[string]string
		wantVersion string
		wantPrev    string
	}{
		{
			name:        "complete next is swapped in",
			flash:       map[string]string{"project/.version": "1", "project/main.py": "1", "next/.version": "2", "next/main.py": "2"},
			wantVersion: "2", wantPrev: "1",
		},
		{
			name:        "missing app after first rename",
			flash:       map[string]string{"prev/.version": "1", "prev/main.py": "1", "next/.version": "2", "next/main.py": "2"},
			wantVersion: "2", wantPrev: "1",
		},
		{
			name:        "partial next is left alone",
			flash:       map[string]string{"project/.version": "1", "project/main.py": "1", "next/.version_on_reboot": "2", "next/main.py": "2"},
			wantVersion: "1",
		},
		{
			name:        "missing app and partial next restore prev",
			flash:       map[string]string{"prev/.version": "1", "prev/main.py": "1", "next/.version_on_reboot": "2"},
			wantVersion: "1",
		},
		{
			name:        "partly removed prev is removed",
			flash:       map[string]string{"project/.version": "2", "project/main.py": "2", "prev/main.py": "1"},
			wantVersion: "2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Install the recovery on a clean board, then lay out the
			// interrupted state and boot again.
			r := newRig(t, "1.13")
			ctx := testContext(t)
			if err := r.stg.InstallRecovery(ctx); err != nil {
				t.Fatalf("InstallRecovery: %v", err)
			}
			r.conn.Close()
			if err := r.board.PowerOff(); err != nil {
				t.Fatal(err)
			}
			writeFlash(t, r.flash, tc.flash)
			if err := r.board.PowerOn(); err != nil {
				t.Fatal(err)
			}
			if err := r.board.WaitBoot(ctx, 2); err != nil {
				t.Fatal(err)
			}
			r.connect()
			st, err := r.stg.Inspect(ctx)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if st.Installed != tc.wantVersion {
				t.Errorf("installed = %q, want %q", st.Installed, tc.wantVersion)
			}
			if main := readFile(t, filepath.Join(r.flash, "project", "main.py")); main != tc.wantVersion {
				t.Errorf("/project/main.py = %q, want version %q's", main, tc.wantVersion)
			}
			if st.Previous != tc.wantPrev {
				t.Errorf("previous = %q, want %q", st.Previous, tc.wantPrev)
			}
			if st.PrevPresent && st.Previous == "" {
				t.Errorf("a partial /prev was left")
			}
		})
	}
}

var _ = simtest.Start
var _ simboard.Options
var _ staging.State
