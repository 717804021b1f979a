package main

import "testing"

func TestByteCountUnits(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{999, "999 B"},
		{1000, "1.0 KB"},
		{102400, "102.4 KB"},
		{1100000, "1.10 MB"},
	}
	for _, tt := range tests {
		if got := kb(tt.n); got != tt.want {
			t.Errorf("kb(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
