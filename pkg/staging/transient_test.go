package staging

import (
	"testing"

	"github.com/otaflash/otaflash/pkg/repl"
)

func TestTransientErrors(t *testing.T) {
	tests := []struct {
		name      string
		traceback string
		want      bool
	}{
		{
			name:      "rejected by _x",
			traceback: "Traceback (most recent call last):\n  File \"<stdin>\", line 1, in <module>\n  File \"<string>\", line 6, in _x\nValueError: otaflash: command spoiled on the line",
			want:      true,
		},
		{
			name:      "rejected by _x, message spoiled on the way back",
			traceback: "Traceback (most recent call last):\n  File \"<stdin>\", line 1, in <module>\n  File \"<string>\", line 6, in _x\nValueError: otaflash: command spoiled o the line",
			want:      true,
		},
		{
			name:      "call around _x spoiled",
			traceback: "Traceback (most recent call last):\n  File \"<stdin>\", line 1\nSyntaxError: invalid syntax",
			want:      true,
		},
		{
			name:      "error in the verified command",
			traceback: "Traceback (most recent call last):\n  File \"<stdin>\", line 1, in <module>\n  File \"<string>\", line 5, in _x\n  File \"<string>\", line 1, in <module>\nOSError: [Errno 28] ENOSPC",
			want:      false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := &repl.RemoteError{Command: "_x(...)", Traceback: tt.traceback}
			if got := transient(err); got != tt.want {
				t.Errorf("transient = %v, want %v", got, tt.want)
			}
		})
	}
}
