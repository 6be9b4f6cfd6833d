package offline

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzAnalyze feeds arbitrary exercise and previous texts to the heuristic: it must never
// panic, must be deterministic and must always produce a well-formed answer.
func FuzzAnalyze(f *testing.F) {
	f.Add("it", "b) Si ripeta con sole porte NAND.", prevKarnaugh)
	f.Add("en", "Istruzioni: tempo a disposizione 2 ore.", "")
	f.Add("en", "(segue) ...", "\x00\xff")
	f.Fuzz(func(t *testing.T, lang, text, previous string) {
		r := Analyze(lang, text, previous)
		checkInvariants(t, r)
		if r2 := Analyze(lang, text, previous); !reflect.DeepEqual(r, r2) {
			t.Fatalf("not deterministic: %+v / %+v", r, r2)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Result
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip: %v\n%s", err, b)
		}
	})
}
