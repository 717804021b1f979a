package staging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/otaflash/otaflash/pkg/repl"
)

// State is the board's firmware and the installed, staged and previous
// versions on its flash.
type State struct {
	// Firmware is the MicroPython version, such as "1.13.0".
	Firmware string `json:"firmware"`
	// Platform is sys.platform, such as "esp8266".
	Platform string `json:"platform"`
	// MainDir is the app folder, such as "/project".
	MainDir string `json:"main_dir"`
	// AppPresent reports whether the app folder exists.
	AppPresent bool `json:"app_present"`
	// Installed is the app folder's .version, or "" when it has none.
	Installed string `json:"installed"`
	// NextPresent reports whether /next exists.
	NextPresent bool `json:"next_present"`
	// Staged is /next/.version: a release verified in full but not yet swapped in.
	Staged string `json:"staged"`
	// Staging is /next/.version_on_reboot: a release whose files may be partial.
	Staging string `json:"staging"`
	// PrevPresent reports whether /prev exists.
	PrevPresent bool `json:"prev_present"`
	// Previous is /prev/.version: the version that revert restores.
	Previous string `json:"previous"`
	// BlockSize, FreeFlash and TotalFlash come from os.statvfs('/'), in bytes.
	BlockSize  int64 `json:"block_size"`
	FreeFlash  int64 `json:"free_flash"`
	TotalFlash int64 `json:"total_flash"`
	// FreeRAM is gc.mem_free() after gc.collect(), in bytes.
	FreeRAM int64 `json:"free_ram"`
}

// Interrupted reports whether an earlier update or revert stopped part way
// in a state that recovery changes: a complete /next not yet swapped in, an
// app folder missing while a version is kept to restore it, or a partly
// removed /prev. A partial /next alone is left for staging to resume.
func (s State) Interrupted() bool {
	return s.Staged != "" || (!s.AppPresent && s.Previous != "") || (s.PrevPresent && s.Previous == "")
}

// Inspect reads the board's state.
func (b *Board) Inspect(ctx context.Context) (State, error) {
	var st State
	var err error
	for attempt := 1; attempt <= commandAttempts; attempt++ {
		if st, err = b.inspectOnce(ctx); err == nil || !transient(err) {
			break
		}
	}
	return st, err
}

func (b *Board) inspectOnce(ctx context.Context) (State, error) {
	out, err := b.exec(ctx, fmt.Sprintf("_state(%s)", pyStr(b.appDir())))
	if err != nil {
		return State{}, fmt.Errorf("reading the board's state: %w", err)
	}
	var raw struct {
		Firmware string  `json:"fw"`
		Platform string  `json:"plat"`
		App      bool    `json:"app"`
		Current  *string `json:"cur"`
		Next     bool    `json:"next"`
		Staged   *string `json:"nv"`
		Staging  *string `json:"np"`
		Prev     bool    `json:"prev"`
		Previous *string `json:"pv"`
		Binary   bool    `json:"bin"`
		Block    int64   `json:"bs"`
		Free     int64   `json:"free"`
		Total    int64   `json:"total"`
		RAM      int64   `json:"ram"`
	}
	body, err := checkedReply(out)
	if err != nil {
		return State{}, fmt.Errorf("reading the board's state: %w", err)
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		// Output spoiled on the way back is a protocol error, so it is retried.
		return State{}, fmt.Errorf("reading the board's state: %w", &repl.ProtocolError{Step: "as the state", Got: []byte(out)})
	}
	b.canBinary, b.stateRead = raw.Binary, true
	return State{
		Firmware:    raw.Firmware,
		Platform:    raw.Platform,
		MainDir:     b.appDir(),
		AppPresent:  raw.App,
		Installed:   deref(raw.Current),
		NextPresent: raw.Next,
		Staged:      deref(raw.Staged),
		Staging:     deref(raw.Staging),
		PrevPresent: raw.Prev,
		Previous:    deref(raw.Previous),
		BlockSize:   raw.Block,
		FreeFlash:   raw.Free,
		TotalFlash:  raw.Total,
		FreeRAM:     raw.RAM,
	}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkedReply returns the lines of out before the last, which must be 8
// hex digits of their SHA-256. A reply changed on the line fails the check
// with a ProtocolError, so the command is retried.
func checkedReply(out string) (string, error) {
	out = strings.TrimSpace(out)
	i := strings.LastIndexByte(out, '\n')
	if i < 0 {
		return "", &repl.ProtocolError{Step: "in a checked reply", Got: []byte(out)}
	}
	body, digest := out[:i], out[i+1:]
	sum := sha256.Sum256([]byte(body))
	if digest != hex.EncodeToString(sum[:4]) {
		return "", &repl.ProtocolError{Step: "in a checked reply", Got: []byte(out)}
	}
	return body, nil
}
