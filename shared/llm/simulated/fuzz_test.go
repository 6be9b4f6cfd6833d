package simulated

import (
	"slices"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// FuzzParseFailures checks that every accepted flag value yields only known kinds, that
// parsing the joined result gives it back, and that rejections are KindInvalid.
func FuzzParseFailures(f *testing.F) {
	f.Add("429,503,timeout")
	f.Add(" , GARBAGE ,401,,")
	f.Add("429,418")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseFailures(s)
		if err != nil {
			if examina.KindOf(err) != examina.KindInvalid || got != nil {
				t.Fatalf("ParseFailures(%q) = %q, %v", s, got, err)
			}
			return
		}
		for _, k := range got {
			if !slices.Contains(FailureKinds(), k) {
				t.Fatalf("ParseFailures(%q) returned unknown kind %q", s, k)
			}
		}
		again, err := ParseFailures(strings.Join(got, ","))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip of %q: %q, %v", got, again, err)
		}
		if err := (Config{Failures: got}).Validate(); err != nil {
			t.Fatalf("parsed kinds %q do not validate: %v", got, err)
		}
	})
}

// FuzzParseDist checks that ParseDist accepts exactly the three distributions.
func FuzzParseDist(f *testing.F) {
	f.Add("lognormal")
	f.Add(" Fixed ")
	f.Add("gauss")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDist(s)
		if err != nil {
			if examina.KindOf(err) != examina.KindInvalid {
				t.Fatalf("ParseDist(%q) error kind: %v", s, err)
			}
			return
		}
		if !slices.Contains([]string{DistUniform, DistLognormal, DistFixed}, got) {
			t.Fatalf("ParseDist(%q) = %q", s, got)
		}
		if again, err := ParseDist(got); err != nil || again != got {
			t.Fatalf("ParseDist(%q) not idempotent: %q, %v", got, again, err)
		}
	})
}
