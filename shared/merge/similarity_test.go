package merge

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestSimilarity(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"Karnaugh Maps", "Karnaugh Maps", 1},
		{"Karnaugh-Maps", "karnaugh maps", 1},
		{"  KARNAUGH__maps\t", "karnaugh maps", 1},
		{"karnaugh \n  maps", "Karnaugh Maps", 1},
		{"Karnaugh Map", "karnaugh maps", 1 - 1.0/13},
		{"Cache", "Caches", 1 - 1.0/6},
		{"Cache", "Pipelining", 0},
		{"abc", "xyz", 0},
		{"", "", 1},
		{" -_ ", "", 1},
		{"", "abc", 0},
		{"Ärger", "ärgern", 1 - 1.0/6}, // runes, not bytes
		{"kitten", "sitting", 1 - 3.0/7},
		{strings.Repeat("ab", 50), strings.Repeat("ab", 49) + "ba", 1 - 2.0/100}, // beyond the stack buffers
	}
	for _, tc := range tests {
		for _, pair := range [][2]string{{tc.a, tc.b}, {tc.b, tc.a}} {
			if got := Similarity(pair[0], pair[1]); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("Similarity(%q, %q) = %v, want %v", pair[0], pair[1], got, tc.want)
			}
		}
	}
}

// naiveLevenshtein is the textbook full-matrix edit distance.
func naiveLevenshtein(a, b []rune) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			d[i][j] = min(d[i-1][j-1]+c, d[i-1][j]+1, d[i][j-1]+1)
		}
	}
	return d[len(a)][len(b)]
}

func randomRunes(rng *rand.Rand, alphabet []rune, maxLen int) []rune {
	out := make([]rune, rng.IntN(maxLen+1))
	for i := range out {
		out[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return out
}

func TestBoundedLevenshteinMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []rune("abcé ")
	var lev levenshtein
	for range 20000 {
		a, b := randomRunes(rng, alphabet, 12), randomRunes(rng, alphabet, 12)
		want := naiveLevenshtein(a, b)
		k := rng.IntN(14) - 1
		d, ok := lev.bounded(a, b, k)
		if ok != (want <= k) || (ok && d != want) || (!ok && d != k+1) {
			t.Fatalf("bounded(%q, %q, %d) = %d, %v; distance %d", string(a), string(b), k, d, ok, want)
		}
	}
}

func TestMaxDistanceAgreesWithSimilarity(t *testing.T) {
	for _, th := range []float64{-0.5, 0, 0.01, 0.5, 0.8, 0.85, 0.9, 0.95, 1, 1.2} {
		for m := 1; m <= 200; m++ {
			k := maxDistance(m, th)
			for d := 0; d <= m; d++ {
				if (d <= k) != (similarityOf(d, m) >= th) {
					t.Fatalf("maxDistance(%d, %v) = %d, but similarityOf(%d) = %v", m, th, k, d, similarityOf(d, m))
				}
			}
		}
	}
}

// bruteFold is the folding rule without any filter: compare with every canonical name.
func bruteFold(names []string, th float64) []int {
	var canon []string
	out := make([]int, len(names))
	for i, n := range names {
		best, bestSim := -1, -1.0
		for c, cn := range canon {
			if s := Similarity(n, cn); s >= th && s > bestSim {
				best, bestSim = c, s
			}
		}
		if best < 0 {
			best = len(canon)
			canon = append(canon, n)
		}
		out[i] = best
	}
	return out
}

func TestFolderMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	alphabet := []rune("aabbcdé")
	for round := range 150 {
		th := []float64{0.3, 0.5, 0.7, 0.85, 0.9, 1}[round%6]
		seen := make(map[string]bool)
		var names []string
		for range 60 {
			n := string(randomRunes(rng, alphabet, 14))
			if n == "" || seen[n] {
				continue
			}
			seen[n] = true
			names = append(names, n)
		}
		want := bruteFold(names, th)
		f := newFolder(th)
		for i, n := range names {
			if got := f.add([]rune(n)); got != want[i] {
				t.Fatalf("threshold %v: %q folded into %d, brute force says %d (names %q)", th, n, got, want[i], names[:i+1])
			}
		}
	}
}

func FuzzSimilarity(f *testing.F) {
	f.Add("Karnaugh Map", "karnaugh maps")
	f.Add("Cache", "Caches")
	f.Add("", "x")
	f.Add("  a--b__c  ", "A B C")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 200 || len(b) > 200 {
			return // keep the quadratic reference cheap
		}
		s := Similarity(a, b)
		if s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("Similarity(%q, %q) = %v, out of [0,1]", a, b, s)
		}
		if r := Similarity(b, a); r != s {
			t.Fatalf("not symmetric: %v vs %v", s, r)
		}
		ra, rb := appendNormalizedRunes(nil, a), appendNormalizedRunes(nil, b)
		if string(ra) != string(appendNormalized(nil, a)) {
			t.Fatalf("rune and byte normalisations of %q differ", a)
		}
		if m := max(len(ra), len(rb)); m > 0 {
			if want := similarityOf(naiveLevenshtein(ra, rb), m); want != s {
				t.Fatalf("Similarity(%q, %q) = %v, reference %v", a, b, s, want)
			}
		}
		if Similarity(a, a) != 1 {
			t.Fatalf("Similarity(%q, itself) != 1", a)
		}
	})
}
