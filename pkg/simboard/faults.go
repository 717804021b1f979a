package simboard

import (
	"math/rand/v2"
	"sync"
)

// faults applies seeded line faults to the bytes of one direction. The
// random sequence advances once per byte, so the same seed and the same
// bytes give the same faults however the bytes are batched.
type faults struct {
	mu        sync.Mutex
	rng       *rand.Rand
	drop      float64
	corrupt   float64
	dropped   int64
	corrupted int64
}

// newFaults seeds a fault source. Each direction uses its own stream number.
func newFaults(seed int64, stream uint64, drop, corrupt float64) *faults {
	return &faults{
		rng:     rand.New(rand.NewPCG(uint64(seed), stream)),
		drop:    drop,
		corrupt: corrupt,
	}
}

func (f *faults) set(drop, corrupt float64) {
	f.mu.Lock()
	f.drop, f.corrupt = drop, corrupt
	f.mu.Unlock()
}

// apply returns data after the faults: a dropped byte is removed, a corrupted
// byte has one random bit flipped, as a noise burst shorter than a bit would.
func (f *faults) apply(data []byte) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drop == 0 && f.corrupt == 0 {
		return data
	}

	out := make([]byte, 0, len(data))
	for _, b := range data {
		// Both draws happen for every byte to keep the sequence aligned.
		dropDraw, corruptDraw, bit := f.rng.Float64(), f.rng.Float64(), f.rng.IntN(8)
		if dropDraw < f.drop {
			f.dropped++
			continue
		}
		if corruptDraw < f.corrupt {
			b ^= 1 << bit
			f.corrupted++
		}
		out = append(out, b)
	}
	return out
}

func (f *faults) counts() (dropped, corrupted int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped, f.corrupted
}
