package merge

import (
	"math"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// Similarity returns how alike two names are, in [0,1], case-insensitively.
//
// Both names are normalised first: lower case, '-' and '_' read as spaces, runs of
// white space collapsed to one space, leading and trailing space dropped. The result is
// 1 - d/m where d is the Levenshtein distance between the normalised names counted in
// runes (insertions, deletions and substitutions all cost 1) and m is the rune length of
// the longer one; two names that are both empty after normalisation have similarity 1.
// So "Karnaugh-Maps" and "karnaugh maps" score 1, "Karnaugh Map" and "karnaugh maps"
// 1 - 1/13 ≈ 0.923, "Cache" and "Caches" 1 - 1/6 ≈ 0.833. The measure is symmetric.
// Edit distance was chosen because near-duplicates produced by models are mostly
// plurals, casing, punctuation and typos, which it scores high, while it never scores
// two short unrelated words high.
func Similarity(a, b string) float64 {
	var abuf, bbuf [64]rune
	ra := appendNormalizedRunes(abuf[:0], a)
	rb := appendNormalizedRunes(bbuf[:0], b)
	m := max(len(ra), len(rb))
	if m == 0 {
		return 1
	}
	var s0, s1 [65]int
	var lev levenshtein
	if min(len(ra), len(rb))+1 <= len(s0) {
		lev.prev, lev.cur = s0[:], s1[:]
	}
	d, _ := lev.bounded(ra, rb, m)
	return similarityOf(d, m)
}

// similarityOf is the similarity of two normalised names of maximum rune length m > 0
// at edit distance d. Every decision in this package goes through it so that folding
// agrees exactly with Similarity.
func similarityOf(d, m int) float64 {
	return 1 - float64(d)/float64(m)
}

// maxDistance returns the largest distance d in [0,m] with similarityOf(d, m) >= t, or
// -1 if there is none.
func maxDistance(m int, t float64) int {
	if m == 0 {
		return 0
	}
	d := int(math.Floor((1 - t) * float64(m)))
	d = min(max(d, 0), m)
	for d < m && similarityOf(d+1, m) >= t {
		d++
	}
	for d >= 0 && similarityOf(d, m) < t {
		d--
	}
	return d
}

// normRune classifies r for normalisation: separators (white space, '-', '_') report
// sep; anything else is returned in lower case.
func normRune(r rune) (lower rune, sep bool) {
	if r == '-' || r == '_' || unicode.IsSpace(r) {
		return 0, true
	}
	return unicode.ToLower(r), false
}

// appendNormalizedRunes appends the normalised form of s to dst (see Similarity).
func appendNormalizedRunes(dst []rune, s string) []rune {
	start, pending := len(dst), false
	for _, r := range s {
		lr, sep := normRune(r)
		if sep {
			pending = len(dst) > start
			continue
		}
		if pending {
			dst = append(dst, ' ')
			pending = false
		}
		dst = append(dst, lr)
	}
	return dst
}

// appendNormalized appends the UTF-8 normalised form of s to dst (see Similarity).
func appendNormalized(dst []byte, s string) []byte {
	start, pending := len(dst), false
	for _, r := range s {
		lr, sep := normRune(r)
		if sep {
			pending = len(dst) > start
			continue
		}
		if pending {
			dst = append(dst, ' ')
			pending = false
		}
		dst = utf8.AppendRune(dst, lr)
	}
	return dst
}

// levenshtein computes edit distances reusing its two row buffers.
type levenshtein struct {
	prev, cur []int
}

// bounded returns the Levenshtein distance between a and b and true if it is at most k;
// otherwise it returns k+1 and false. It only fills the diagonal band of width 2k+1 and
// stops as soon as a whole row exceeds k, so it costs O(k·min(len a, len b)).
func (l *levenshtein) bounded(a, b []rune, k int) (int, bool) {
	if len(a) > len(b) {
		a, b = b, a
	}
	n, m := len(a), len(b)
	if k < 0 || m-n > k {
		return k + 1, false
	}
	if n == 0 {
		return m, true
	}
	if cap(l.prev) < n+1 {
		l.prev = make([]int, n+1)
		l.cur = make([]int, n+1)
	}
	prev, cur := l.prev[:n+1], l.cur[:n+1]
	big := k + 1
	for i := range prev {
		prev[i] = min(i, big)
	}
	for j := 1; j <= m; j++ {
		lo, hi := max(1, j-k), min(n, j+k)
		rowMin := big
		if j <= k {
			cur[0] = j
			rowMin = j
		} else {
			cur[0] = big
		}
		if lo > 1 {
			cur[lo-1] = big
		}
		bj := b[j-1]
		for i := lo; i <= hi; i++ {
			v := prev[i-1]
			if a[i-1] != bj {
				v++
			}
			if x := prev[i] + 1; x < v {
				v = x
			}
			if x := cur[i-1] + 1; x < v {
				v = x
			}
			v = min(v, big)
			cur[i] = v
			rowMin = min(rowMin, v)
		}
		if hi < n {
			cur[hi+1] = big
		}
		if rowMin > k {
			return big, false
		}
		prev, cur = cur, prev
	}
	if d := prev[n]; d <= k {
		return d, true
	}
	return big, false
}

// histSize is the number of buckets of the rune histogram used as a lower bound.
const histSize = 32

// histogram counts the runes of a normalised name into histSize buckets.
type histogram [histSize]int32

func histogramOf(rs []rune) histogram {
	var h histogram
	for _, r := range rs {
		h[uint32(r)%histSize]++
	}
	return h
}

// lowerBound returns a lower bound of the edit distance between the names whose
// histograms are h and g: one edit moves the L1 distance between histograms by at most 2.
func (h *histogram) lowerBound(g *histogram) int {
	l1 := int32(0)
	for i := range h {
		d := h[i] - g[i]
		if d < 0 {
			d = -d
		}
		l1 += d
	}
	return int(l1+1) / 2
}

// runeSet is a 64-bucket set of the runes of a normalised name, the cheapest filter.
type runeSet uint64

func runeSetOf(rs []rune) runeSet {
	var s runeSet
	for _, r := range rs {
		s |= 1 << (uint32(r) % 64)
	}
	return s
}

// lowerBound returns a lower bound of the edit distance between the names whose sets
// are s and o: every bucket of one missing from the other costs at least one edit, and
// one substitution can settle at most one bucket on each side.
func (s runeSet) lowerBound(o runeSet) int {
	return max(bits.OnesCount64(uint64(s&^o)), bits.OnesCount64(uint64(o&^s)))
}

// lengthBucket holds the canonical names of one rune length, with their rune sets
// stored contiguously for a fast scan.
type lengthBucket struct {
	canon []int
	sets  []runeSet
}

// folder assigns distinct normalised names to canonical names: a name joins the most
// similar earlier canonical name with similarity >= threshold (ties to the earliest) or
// becomes canonical itself. Canonical names are bucketed by rune length so that a name
// is compared only with those whose length keeps the threshold reachable.
type folder struct {
	threshold float64
	canon     [][]rune
	hist      []histogram
	byLen     map[int]*lengthBucket
	maxLen    int
	lev       levenshtein
}

func newFolder(threshold float64) *folder {
	return &folder{threshold: threshold, byLen: make(map[int]*lengthBucket)}
}

// add folds name (normalised, non-empty, distinct from every name added before) and
// returns the index of its canonical name; a new canonical name gets the next index.
func (f *folder) add(name []rune) int {
	if c, ok := f.match(name); ok {
		return c
	}
	c := len(f.canon)
	f.canon = append(f.canon, name)
	f.hist = append(f.hist, histogramOf(name))
	b := f.byLen[len(name)]
	if b == nil {
		b = &lengthBucket{}
		f.byLen[len(name)] = b
	}
	b.canon = append(b.canon, c)
	b.sets = append(b.sets, runeSetOf(name))
	f.maxLen = max(f.maxLen, len(name))
	return c
}

// match finds the canonical name name folds into.
func (f *folder) match(name []rune) (int, bool) {
	if len(f.canon) == 0 {
		return 0, false
	}
	t := f.threshold
	if t <= 0 {
		return 0, true // every pair qualifies; the first canonical name wins
	}
	n := len(name)
	kn := maxDistance(n, t)
	if kn < 0 {
		return 0, false // t > 1: nothing but equal names would fold
	}
	h, set := histogramOf(name), runeSetOf(name)
	best, bestSim := -1, -1.0
	// A length l can reach the threshold only if |n-l| <= maxDistance(max(n, l)): for
	// l <= n that is l >= n-kn; for l > n it needs t·l <= n (plus float slack).
	hi := f.maxLen
	if u := float64(n)/t + 2; u < float64(hi) {
		hi = int(u)
	}
	for l := max(n-kn, 1); l <= hi; l++ {
		m := max(n, l)
		k := maxDistance(m, t)
		if l-n > k {
			continue
		}
		b := f.byLen[l]
		if b == nil {
			continue
		}
		for j, cs := range b.sets {
			if cs.lowerBound(set) > k {
				continue
			}
			c := b.canon[j]
			if f.hist[c].lowerBound(&h) > k {
				continue
			}
			d, ok := f.lev.bounded(name, f.canon[c], k)
			if !ok {
				continue
			}
			if s := similarityOf(d, m); s > bestSim || (s == bestSim && c < best) {
				best, bestSim = c, s
			}
		}
	}
	return best, best >= 0
}
