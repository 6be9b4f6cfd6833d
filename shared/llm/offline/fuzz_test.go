package offline

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzAnalyze feeds arbitrary exercise and previous texts to the heuristic: it must never
// panic, must be deterministic and must always produce a well-formed answer.
func FuzzAnalyze(f *testing.F) {
	f.Add("it", "b) Si ripeta con sole porte NAND.", "Esercizio 1. Si minimizzi la funzione.")
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

// FuzzLearn learns courses of arbitrary items (split at \x1e): every item gets a
// well-formed answer, and a fragment only ever follows a valid item.
func FuzzLearn(f *testing.F) {
	f.Add("it", "Esercizio 1. Si calcoli il limite.\x1eb) Si calcoli la derivata.\x1ePagina 1 di 2\x1eEsercizio 2. Si calcoli il limite di x.")
	f.Add("en", "Name: ____ Student ID: ____\x1eQuestion 1. Find the keys.\x1eUsing the same relation as above, decompose it.")
	f.Add("xx", "\x1e\x1e(continua)\x1e- 2 -\x1e\xff\xfe")
	f.Fuzz(func(t *testing.T, lang, joined string) {
		texts := strings.Split(joined, "\x1e")
		m := Learn(lang, exercises(texts...))
		open := false
		for i, text := range texts {
			r, ok := m.Result(i, text)
			if !ok {
				t.Fatalf("item %d missing", i)
			}
			checkInvariants(t, r)
			if r.ShouldMergeWithPrevious && !open {
				t.Fatalf("item %d merges with nothing: %+v", i, r)
			}
			open = open || r.IsValidExercise
		}
	})
}
