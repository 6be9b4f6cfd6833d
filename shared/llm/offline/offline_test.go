package offline

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// exercises turns texts into a course's items in position order.
func exercises(texts ...string) []examina.Exercise {
	out := make([]examina.Exercise, len(texts))
	for i, t := range texts {
		out[i] = examina.Exercise{ID: "e" + itoa(i), Text: t, Position: i}
	}
	return out
}

func checkInvariants(t *testing.T, r Result) {
	t.Helper()
	if r.Confidence < 0 || r.Confidence > 1 {
		t.Errorf("confidence %v out of 0..1", r.Confidence)
	}
	if !slices.Contains([]string{"easy", "medium", "hard"}, r.Difficulty) {
		t.Errorf("difficulty %q", r.Difficulty)
	}
	if r.Procedure == nil || r.Variations == nil {
		t.Errorf("nil slices: %+v", r)
	}
	if len(r.Variations) > 3 {
		t.Errorf("%d variations", len(r.Variations))
	}
	if !r.IsValidExercise {
		if r.IsFragment || r.ShouldMergeWithPrevious || r.Topic != "" || len(r.Procedure) != 0 {
			t.Errorf("invalid exercise with content: %+v", r)
		}
		return
	}
	if r.Topic == "" || r.CoreLoopName == "" {
		t.Errorf("valid exercise without topic or core loop: %+v", r)
	}
	if len(r.Procedure) == 0 || len(r.Procedure) > 8 {
		t.Errorf("procedure has %d steps", len(r.Procedure))
	}
}

func TestFragmentSignal(t *testing.T) {
	const prevNumbered = "Esercizio 1. Si considerino i processi.\n1. Si disegni il diagramma di Gantt."
	tests := []struct {
		name, text, previous, want string
	}{
		{"later lettered sub-point", "b) Si calcoli il tempo di attesa medio.", "", signalSubPoint},
		{"bracketed sub-point", "(c) Find the variance.", "", signalSubPoint},
		{"roman sub-point", "ii) Si indichi il numero di istruzioni.", "", signalSubPoint},
		{"named sub-point", "Part b: implement the same machine.", "", signalSubPoint},
		{"first sub-point opens", "a) Si calcoli il limite.", "", ""},
		{"numbered after a numbered list", "2. Si calcoli il tempo di attesa.", prevNumbered, signalSubPoint},
		{"numbered exercise without a list before", "2. Si calcoli il tempo di attesa.", "Esercizio 1. Si calcoli il limite.", ""},
		{"continued mark", "(continua) Si ripeta l'analisi con 4 frame.", "", signalContinued},
		{"segue", "Segue dall'esercizio 2: si calcoli la varianza.", "", signalContinued},
		{"lower-case start", "e si ripeta l'analisi con il forwarding.", "", signalLowerCase},
		{"formula start is not lower case", "f(x) = x^2 + 1 è la funzione da studiare: se ne calcoli la derivata.", "", ""},
		{"reference opening it", "Con riferimento all'esercizio precedente, si calcoli la varianza.", "", signalReference},
		{"reference to a state", "Con riferimento allo stato precedente, P1 richiede (1, 0, 2).", "", signalReference},
		{"same relations as above", "Using the same relations as above, express the query in relational algebra.", "", signalReference},
		{"results above", "Using the results above, compute the CPI.", "", signalReference},
		{"stesso programma", "Con riferimento allo stesso programma, si calcoli lo speedup.", "", signalReference},
		{"sub-point reference", "For query (ii), write an equivalent formulation.", "", signalReference},
		{"repeat the test above", "Repeat the test above at the 5% significance level.", "", signalReference},
		// Never on a bare word, never after the item's own heading.
		{"heading with above", "Exercise 3. Using the same relation as above, find the keys.", "", ""},
		{"heading with sopra", "Esercizio 3. Come sopra, si calcoli il limite.", "", ""},
		{"heading lower-case body", "Esercizio 4 (continua) e si ripeta.", "", ""},
		{"bare above later", "Consider the table below. Which of the rows shown above are duplicates?", "", ""},
		{"bare sopra later", "Si consideri la funzione f. Si dica se il grafico di f sta sopra la retta y = x.", "", ""},
		{"bare previous later", "A die is rolled twice. Is the second roll independent of the previous one?", "", ""},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fragmentSignal(tt.text, tt.previous); got != tt.want {
				t.Errorf("fragmentSignal(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestStructureOfACourse(t *testing.T) {
	texts := []string{
		/*0*/ "Basi di Dati — Appello del 12 giugno 2024\nCognome: ________ Nome: ________ Matricola: ______",
		/*1*/ "Istruzioni: la prova dura 2 ore. Non è consentito l'uso di appunti o libri. Buon lavoro!",
		/*2*/ "Esercizio 1. Data la relazione Student(id, name, year) e Exam(student_id, course, grade), si scriva una query SQL che restituisca gli studenti con media superiore a 27.",
		/*3*/ "b) Si scriva la stessa query in algebra relazionale.",
		/*4*/ "Pagina 1 di 2",
		/*5*/ "Esercizio 2. Si consideri la relazione R(A, B, C, D) con le dipendenze funzionali A → B e B → C. Si determinino le chiavi candidate e si decomponga R in forma normale di Boyce-Codd.\nBasi di Dati — pagina 2",
		/*6*/ "Esercizio 3. Si scriva una query SQL che conti gli esami superati da ogni studente della relazione Exam.",
		/*7*/ "Esercizio 4. Data la relazione S(A, B, C) con le dipendenze funzionali AB → C e C → A, si determinino le chiavi candidate e si dica se S è in forma normale di Boyce-Codd.",
		/*8*/ "Question 5. Using the Student(id, name, year) relation, write an SQL query that lists the students of year 2.",
	}
	m := Learn("it", exercises(texts...))
	got := func(i int) Result { r, _ := m.Result(i, texts[i]); return r }
	for i, wantValid := range []bool{false, false, true, true, false, true, true, true, true} {
		if r := got(i); r.IsValidExercise != wantValid {
			t.Errorf("item %d: valid %v, want %v (%q)", i, r.IsValidExercise, wantValid, texts[i])
		}
	}
	if r := got(3); !r.IsFragment || !r.ShouldMergeWithPrevious || r.Topic != got(2).Topic {
		t.Errorf("sub-point b): %+v, want a fragment merged into item 2", r)
	}
	// Student(id, ...) is a relation, not a student-id blank: the SQL exercises stay.
	if got(2).Topic != got(6).Topic {
		t.Errorf("SQL exercises in topics %q and %q, want one", got(2).Topic, got(6).Topic)
	}
	if got(5).Topic != got(7).Topic || got(5).Topic == got(2).Topic {
		t.Errorf("normalization exercises in %q and %q (SQL: %q), want one topic of their own", got(5).Topic, got(7).Topic, got(2).Topic)
	}
	// The footer inside item 5 is not part of its analysis.
	for _, s := range append(got(5).Procedure, got(5).Topic, got(5).CoreLoopName) {
		if strings.Contains(strings.ToLower(s), "pagina") {
			t.Errorf("footer leaked into the analysis: %q", s)
		}
	}
	if r := got(6); r.Confidence < 0.55 {
		t.Errorf("SQL exercise shared with others has confidence %v, want >= 0.55", r.Confidence)
	}
}

func TestRepeatedRunningLinesAreFooters(t *testing.T) {
	header := "Sistemi Operativi — A.A. 2023/24"
	texts := []string{
		"Esercizio 1. Si calcoli il tempo di attesa medio con Round Robin.\n" + header,
		"Esercizio 2. Si calcoli il numero di page fault con LRU.\n" + header,
		header,
		"Esercizio 3. Si calcoli il tempo di attesa medio con SJF.\n" + header,
	}
	m := Learn("it", exercises(texts...))
	if r, _ := m.Result(2, texts[2]); r.IsValidExercise {
		t.Errorf("a running header alone is valid: %+v", r)
	}
	for _, i := range []int{0, 1, 3} {
		r, _ := m.Result(i, texts[i])
		for _, s := range append(r.Procedure, r.Topic, r.CoreLoopName) {
			if strings.Contains(s, "2023") {
				t.Errorf("item %d: running header in %q", i, s)
			}
		}
	}
}

func TestTopicsAndConfidence(t *testing.T) {
	texts := []string{
		"Esercizio 1. Si calcoli il tempo di attesa medio dei processi P1, P2, P3 con scheduling Round Robin e quanto 2.",
		"Esercizio 2. Data la stringa di riferimenti 1 2 3 4 1 2 5, si calcoli il numero di page fault con LRU e 3 frame.",
		"Esercizio 3. Si calcoli il tempo di attesa medio dei processi A, B, C con scheduling SJF e con Round Robin.",
		"Esercizio 4. Si calcoli il numero di page fault con FIFO e 4 frame per la stringa di riferimenti 7 0 1 2 0 3.",
		"Esercizio 5. Si discutano vantaggi e svantaggi dei microkernel rispetto ai kernel monolitici.",
	}
	m := Learn("it", exercises(texts...))
	r := make([]Result, len(texts))
	for i := range texts {
		r[i], _ = m.Result(i, texts[i])
		checkInvariants(t, r[i])
	}
	if r[0].Topic != r[2].Topic || r[1].Topic != r[3].Topic || r[0].Topic == r[1].Topic {
		t.Errorf("topics %q %q %q %q: want scheduling (1, 3) and paging (2, 4) apart", r[0].Topic, r[1].Topic, r[2].Topic, r[3].Topic)
	}
	for _, i := range []int{0, 1, 2, 3} {
		if r[i].Confidence < 0.55 {
			t.Errorf("exercise %d shares its topic but has confidence %v", i+1, r[i].Confidence)
		}
	}
	if r[4].Confidence >= 0.5 {
		t.Errorf("a lone exercise with no shared phrase has confidence %v, want < 0.5", r[4].Confidence)
	}
	// The core loop is the task: verb of instruction and what it acts on.
	if !strings.HasPrefix(r[0].CoreLoopName, "Calcolare ") || r[0].CoreLoopName != r[2].CoreLoopName || r[0].CoreLoopName == r[1].CoreLoopName {
		t.Errorf("core loops %q %q %q", r[0].CoreLoopName, r[2].CoreLoopName, r[1].CoreLoopName)
	}
}

func TestProcedureFromSubQuestions(t *testing.T) {
	texts := []string{
		"Question 1. Let R(A, B, C, D) be a relation with A → B and B → C.\na) Compute the candidate keys of R.\nb) Decompose R into BCNF.",
		"c) Say whether the decomposition preserves the dependencies.",
	}
	m := Learn("en", exercises(texts...))
	r, _ := m.Result(0, texts[0])
	want := []string{"Compute the candidate keys of R.", "Decompose R into BCNF.", "Say whether the decomposition preserves the dependencies."}
	if !reflect.DeepEqual(r.Procedure, want) {
		t.Errorf("procedure %q, want %q", r.Procedure, want)
	}
	if !strings.HasPrefix(r.CoreLoopName, "Compute ") {
		t.Errorf("core loop %q, want the task's verb first", r.CoreLoopName)
	}
}

func TestOtherLanguageDegradesGracefully(t *testing.T) {
	texts := []string{
		"Aufgabe 1. Berechnen Sie die Eigenwerte der Matrix A und bestimmen Sie die Eigenvektoren.",
		"Aufgabe 2. Bestimmen Sie die Eigenwerte der Matrix B und untersuchen Sie die Diagonalisierbarkeit.",
		"Aufgabe 3. Lösen Sie das lineare Gleichungssystem mit dem Gauß-Verfahren.",
	}
	m := Learn("de", exercises(texts...))
	for i := range texts {
		r, ok := m.Result(i, texts[i])
		if !ok {
			t.Fatalf("item %d missing", i)
		}
		checkInvariants(t, r)
		if !r.IsValidExercise || r.IsFragment || r.ShouldMergeWithPrevious {
			t.Errorf("item %d: %+v, want a valid exercise that merges with nothing", i, r)
		}
	}
	r0, _ := m.Result(0, texts[0])
	r1, _ := m.Result(1, texts[1])
	if r0.Topic != r1.Topic || r0.Confidence > 0.9 {
		t.Errorf("shared phrases: topics %q/%q, confidence %v (want one topic, lowered confidence)", r0.Topic, r1.Topic, r0.Confidence)
	}
}

func TestTaskVerbs(t *testing.T) {
	tests := []struct{ lang, text, verb string }{
		{"it", "Si calcoli il tempo di attesa medio.", "calcolare"},
		{"it", "Si consideri il grafo G. Si determini il cammino minimo.", "determinare"},
		{"it", "Calcolare il limite della successione.", "calcolare"},
		{"it", "Si costruisca l'automa minimo.", "costruire"},
		{"it", "Si scriva la query in SQL.", "scrivere"},
		{"it", "Risolvi l'equazione differenziale.", "risolvere"},
		{"it", "Si traduca il codice in assembly.", "tradurre"},
		{"en", "Given the relation R, find its candidate keys.", "find"},
		{"en", "Consider the graph. Prove that it is bipartite.", "prove"},
		{"en", "What is the probability of two heads?", "answer"},
		{"en", "The table lists the students.", ""},
		{"de", "Berechnen Sie die Eigenwerte.", ""},
	}
	for _, tt := range tests {
		if got := findTask(tt.lang, tt.text).verb; got != tt.verb {
			t.Errorf("findTask(%s, %q) = %q, want %q", tt.lang, tt.text, got, tt.verb)
		}
	}
}

func TestStem(t *testing.T) {
	tests := []struct{ lang, a, b string }{
		{"it", "processo", "processi"},
		{"it", "tabella", "tabelle"},
		{"it", "funzione", "funzioni"},
		{"en", "queries", "query"},
		{"en", "pages", "page"},
		{"en", "processes", "process"},
	}
	for _, tt := range tests {
		if stem(tt.lang, tt.a) != stem(tt.lang, tt.b) {
			t.Errorf("stem(%s): %q → %q, %q → %q", tt.lang, tt.a, stem(tt.lang, tt.a), tt.b, stem(tt.lang, tt.b))
		}
	}
	if stem("en", "analysis") != "analysis" || stem("de", "Aufgaben") != "Aufgaben" || stem("it", "2024") != "2024" {
		t.Error("stem changed a word it must keep")
	}
}

func TestDeterminism(t *testing.T) {
	c := readCourse(t, "../../../examples/ade.json")
	first := Learn(c.Course.Language, c.Exercises)
	for range 3 {
		if again := Learn(c.Course.Language, c.Exercises); !reflect.DeepEqual(first.results, again.results) {
			t.Fatal("two models of the same course differ")
		}
	}
	a, b := Analyze("it", c.Exercises[3].Text, c.Exercises[2].Text), Analyze("it", c.Exercises[3].Text, c.Exercises[2].Text)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("Analyze not deterministic: %+v / %+v", a, b)
	}
}

func TestAnalyzeWithContextOnly(t *testing.T) {
	prev := "Esercizio 1. Si calcoli il numero di page fault con LRU e 3 frame per la stringa di riferimenti 1 2 3 1 4."
	r := Analyze("it", "b) Si ripeta il calcolo del numero di page fault con FIFO.", prev)
	checkInvariants(t, r)
	if !r.IsFragment || !r.ShouldMergeWithPrevious {
		t.Errorf("sub-point b) after an exercise: %+v", r)
	}
	if r := Analyze("it", "b) Si ripeta il calcolo.", ""); r.ShouldMergeWithPrevious {
		t.Errorf("nothing to merge with, yet merges: %+v", r)
	}
	if r := Analyze("en", "Instructions: you have 2 hours. Calculators are not allowed. Write your name on every sheet.", ""); r.IsValidExercise {
		t.Errorf("instructions are valid: %+v", r)
	}
}

func TestProvider(t *testing.T) {
	c := readCourse(t, "../../../examples/ade.json")
	p := New()
	if p.Name() != "offline" || p.Model() != "heuristic-v2" {
		t.Fatalf("%s %s", p.Name(), p.Model())
	}
	ctx := context.Background()
	req := func(i int) examina.Request {
		return examina.Request{Course: c.Course, Language: "it", Exercise: c.Exercises[i], Previous: c.Previous(i)}
	}
	before, err := p.Complete(ctx, req(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.LearnCourse(ctx, c); err != nil {
		t.Fatal(err)
	}
	if want := "heuristic-v2+" + Fingerprint(c); p.Model() != want || len(Fingerprint(c)) != 12 {
		t.Errorf("model %q, want %q", p.Model(), want)
	}
	m := Learn(c.Course.Language, c.Exercises)
	var wg sync.WaitGroup
	for i := range c.Exercises {
		wg.Go(func() {
			resp, err := p.Complete(ctx, req(i))
			if err != nil {
				t.Error(err)
				return
			}
			var got Result
			if err := json.Unmarshal([]byte(resp.Text), &got); err != nil {
				t.Error(err)
				return
			}
			want, _ := m.Result(i, c.Exercises[i].Text)
			if !reflect.DeepEqual(got, want) || !resp.Heuristic || resp.Model != p.Model() || resp.InputTokens == 0 || resp.OutputTokens == 0 {
				t.Errorf("item %d: %+v, want the course model's %+v", i, resp, want)
			}
		})
	}
	wg.Wait()
	// An exercise the model was not learned from falls back to its context.
	other := req(4)
	other.Exercise.Text += " Si motivi la risposta."
	resp, err := p.Complete(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(Analyze("it", other.Exercise.Text, other.Previous))
	if resp.Text != string(want) || before.Text == "" {
		t.Errorf("fallback answer %s, want %s", resp.Text, want)
	}
	// A changed course changes the fingerprint.
	c2 := c
	c2.Exercises = slices.Clone(c.Exercises)
	c2.Exercises[0].Text += "."
	if Fingerprint(c2) == Fingerprint(c) {
		t.Error("the fingerprint ignores the texts")
	}
}

func TestCompleteContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New().Complete(ctx, examina.Request{})
	var pe *examina.ProviderError
	if !errors.As(err, &pe) || pe.Reason != "canceled" || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if err := New().LearnCourse(ctx, examina.CourseFile{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("LearnCourse err %v", err)
	}
}

func TestLanguage(t *testing.T) {
	for _, tt := range []struct{ req, course, want string }{
		{"", "it", "it"}, {"en", "it", "en"}, {"", "it-IT", "it"}, {"", "", "en"}, {"", "de", "en"},
	} {
		if got := Language(tt.req, tt.course); got != tt.want {
			t.Errorf("Language(%q, %q) = %q", tt.req, tt.course, got)
		}
	}
}

func BenchmarkLearnExample(b *testing.B) {
	c := readCourse(b, "../../../examples/ade.json")
	for b.Loop() {
		Learn(c.Course.Language, c.Exercises)
	}
}
