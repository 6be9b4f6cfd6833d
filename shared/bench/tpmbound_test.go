package bench

import (
	"testing"
	"time"
)

func TestTokenMinimum(t *testing.T) {
	tests := []struct {
		n, rpm, tpm, per int
		want             time.Duration
	}{
		{60, 30, 8000, 750, 5*2*time.Second + 200*time.Millisecond},   // 10 calls a window by tokens
		{100, 30, 18000, 750, 4*2*time.Second + 200*time.Millisecond}, // 24 a window
		{60, 5, 8000, 750, 11*2*time.Second + 200*time.Millisecond},   // requests bind
		{1, 30, 100, 750, 200 * time.Millisecond},                     // a call larger than the limit still runs
	}
	for _, tt := range tests {
		if got := TokenMinimum(tt.n, tt.rpm, tt.tpm, tt.per, 2*time.Second, 200*time.Millisecond); got != tt.want {
			t.Errorf("TokenMinimum(%d, %d, %d, %d) = %v, want %v", tt.n, tt.rpm, tt.tpm, tt.per, got, tt.want)
		}
	}
}
