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

// Previous texts used by the continuation rows.
const (
	prevKarnaugh      = "Si minimizzi con la mappa di Karnaugh la funzione f(a,b,c,d) = Σm(1,3,5,7,12,13)."
	prevCombinational = "Design a 4-bit ripple carry adder from full adders and a 4:1 multiplexer."
	prevCache         = "Si consideri una cache a mappatura diretta da 4 KB con blocchi da 16 byte e indirizzi a 32 bit."
	prevPipeline      = "Consider a 5-stage pipeline (IF ID EX MEM WB) without forwarding and the code below."
	prevAssembly      = "Si scriva un programma in assembly MIPS che calcoli la somma degli elementi di un vettore."
	prevSequential    = "Si analizzi il circuito sequenziale con due flip-flop D e se ne tracci il diagramma temporale."
	prevFSM           = "Design a Moore finite state machine that detects the sequence 0110 on input x."
	prevPerformance   = "Un processore a 2 GHz ha CPI medio 1,8: si calcoli il tempo di esecuzione di 10^9 istruzioni."
)

func TestAnalyze(t *testing.T) {
	type want struct {
		valid, fragment, merge bool
		topic                  string  // "" for invalid rows
		maxConf                float64 // 0: no upper bound
		minConf                float64
		variation              string // one variation that must be listed
	}
	tests := []struct {
		name, lang, text, previous string
		want                       want
	}{
		// Instructions, headers and tiny texts.
		{"header it", "it", "Esame di Architettura degli Elaboratori - 12 giugno 2024", "", want{}},
		{"instructions it", "it", "Istruzioni: rispondere a tutte le domande. Tempo a disposizione: 2 ore.", "", want{}},
		{"rules it", "it", "Non è consentito l'uso di calcolatrici, libri o appunti durante la prova.", "", want{}},
		{"name en", "en", "Write your name and student number on every page.", "", want{}},
		{"answer all en", "en", "Answer all questions. Duration: 2 hours.", "", want{}},
		{"closed book en", "en", "Closed book exam. Mobile phones are not allowed. Good luck!", "", want{}},
		{"blank", "en", "   \n\t ", "", want{}},
		{"empty", "it", "", "", want{}},
		{"tiny", "it", "Esercizio 3", "", want{}},
		{"page footer", "it", "Pagina 3 di 5", "", want{}},

		// One exercise per topic, in both languages.
		{"karnaugh it", "it", "Si minimizzi con la mappa di Karnaugh la funzione f(a,b,c,d) = Σm(1,3,5,7,12,13) con condizioni don't care d(0,15).", "",
			want{valid: true, topic: "Mappe di Karnaugh", minConf: 0.55, variation: "condizioni di indifferenza (don't care)"}},
		{"karnaugh en", "en", "Use a Karnaugh map to find the minimal sum of products of F(A,B,C) = Σm(0,1,2,5,6,7).", "",
			want{valid: true, topic: "Karnaugh maps", minConf: 0.55}},
		{"boolean it", "it", "Si dimostri, usando i teoremi dell'algebra di Boole, che A + A'B = A + B.", "",
			want{valid: true, topic: "Algebra di Boole", minConf: 0.55}},
		{"boolean en", "en", "Simplify the Boolean expression F = AB + A'C + BC using De Morgan's laws and the consensus theorem.", "",
			want{valid: true, topic: "Boolean algebra", minConf: 0.55}},
		{"combinational en", "en", "Design a 4-bit ripple carry adder using full adders and compute its worst-case delay.", "",
			want{valid: true, topic: "Combinational circuits", minConf: 0.55}},
		{"combinational it", "it", "Si realizzi un multiplexer 8:1 utilizzando soltanto multiplexer 2:1 e porte logiche.", "",
			want{valid: true, topic: "Circuiti combinatori", minConf: 0.55}},
		{"sequential en", "en", "Draw the timing diagram of a 3-bit shift register built from D flip-flops for the input sequence 1, 0, 1, 1.", "",
			want{valid: true, topic: "Sequential circuits", minConf: 0.55}},
		{"sequential it", "it", "Si progetti un contatore sincrono modulo 5 con flip-flop JK.", "",
			want{valid: true, topic: "Circuiti sequenziali", minConf: 0.55, variation: "flip-flop JK"}},
		{"fsm en", "en", "Design a Mealy sequence detector that recognises 110 on input x and draw its state diagram.", "",
			want{valid: true, topic: "Finite state machines", minConf: 0.55, variation: "Mealy machine"}},
		{"fsm it", "it", "Si disegni il diagramma degli stati di una macchina di Moore che riconosce la sequenza 0101.", "",
			want{valid: true, topic: "Macchine a stati finiti", minConf: 0.55, variation: "macchina di Moore"}},
		{"numbers it", "it", "Si converta il numero 213 in base 2 e in base 16, e si rappresenti -45 in complemento a 2 su 8 bit.", "",
			want{valid: true, topic: "Sistemi di numerazione", minConf: 0.55}},
		{"numbers en", "en", "Convert the hexadecimal number 0x3F7 to decimal and to octal.", "",
			want{valid: true, topic: "Number systems", minConf: 0.55}},
		{"ieee en", "en", "Encode -6.75 in IEEE 754 single precision and give the result in hexadecimal.", "",
			want{valid: true, topic: "IEEE 754 floating point", minConf: 0.55}},
		{"ieee it", "it", "Si rappresenti il numero 12,375 in virgola mobile IEEE 754 a singola precisione.", "",
			want{valid: true, topic: "Virgola mobile IEEE 754", minConf: 0.55}},
		{"assembly en", "en", "Translate the following C code into RISC-V assembly: while (a[i] != 0) i++; the base of a is in x10.", "",
			want{valid: true, topic: "Assembly programming", minConf: 0.55}},
		{"assembly it", "it", "Si scriva una procedura ricorsiva in assembly MIPS che calcoli il fattoriale di n, salvando i registri sullo stack.", "",
			want{valid: true, topic: "Programmazione assembly", minConf: 0.55, variation: "procedura ricorsiva"}},
		{"cache en", "en", "A 2-way set associative cache has 64 blocks of 16 bytes and uses LRU replacement. Split a 32-bit address into tag, index and offset.", "",
			want{valid: true, topic: "Cache memory", minConf: 0.55, variation: "LRU replacement"}},
		{"cache it", "it", "Data una cache a mappatura diretta con 8 linee da 4 parole, si indichi per la sequenza di accessi quali sono hit e quali miss.", "",
			want{valid: true, topic: "Memoria cache", minConf: 0.55, variation: "cache a mappatura diretta"}},
		{"pipeline en", "en", "For the 5-stage pipeline, identify the data hazards in the code and insert the stalls needed without forwarding.", "",
			want{valid: true, topic: "Pipelining", minConf: 0.55, variation: "without forwarding"}},
		{"pipeline it", "it", "Si individuino le alee sui dati nella pipeline a cinque stadi e si indichi dove il forwarding elimina gli stalli.", "",
			want{valid: true, topic: "Pipeline", minConf: 0.55}},
		{"performance en", "en", "A program runs on a 3 GHz processor with an average CPI of 1.5. Compute the execution time of 6 billion instructions.", "",
			want{valid: true, topic: "Performance evaluation", minConf: 0.55}},
		{"performance it", "it", "Si calcoli lo speedup ottenibile con la legge di Amdahl se il 40% del tempo di esecuzione viene accelerato di 4 volte.", "",
			want{valid: true, topic: "Valutazione delle prestazioni", minConf: 0.55, variation: "legge di Amdahl"}},
		{"header with exercise", "it", "Esame ADE 12 giugno 2024. Esercizio 1: si consideri una cache associativa a 4 vie con 128 blocchi; si calcolino i bit di tag, indice e offset.", "",
			want{valid: true, topic: "Memoria cache", minConf: 0.55}},

		// Ambiguous: valid, low confidence.
		{"ambiguous it", "it", "Si discutano vantaggi e svantaggi delle architetture RISC rispetto alle CISC.", "",
			want{valid: true, topic: "Architettura degli elaboratori (generale)", maxConf: 0.49}},
		{"ambiguous en", "en", "Explain the difference between latency and throughput with an example.", "",
			want{valid: true, topic: "Performance evaluation", maxConf: 0.49}},

		// Continuations: each signal, topic inherited when the fragment is weak alone.
		{"letter b", "en", "b) Repeat using only NAND gates.", prevKarnaugh,
			want{valid: true, fragment: true, merge: true, topic: "Karnaugh maps", minConf: 0.5, variation: "NAND-only implementation"}},
		{"paren c", "it", "(c) Si calcoli il ritardo complessivo del circuito ottenuto.", prevCombinational,
			want{valid: true, fragment: true, merge: true, topic: "Circuiti combinatori"}},
		{"number 2", "it", "2. Si calcoli il tasso di miss per la sequenza data.", prevCache,
			want{valid: true, fragment: true, merge: true, topic: "Memoria cache"}},
		{"roman ii", "en", "ii) How many clock cycles does the whole sequence take?", prevPipeline,
			want{valid: true, fragment: true, merge: true, topic: "Pipelining"}},
		{"punto 3", "it", "Punto 3: si ripeta per n = 8 e si confrontino i risultati.", prevAssembly,
			want{valid: true, fragment: true, merge: true, topic: "Programmazione assembly"}},
		{"part b", "en", "Part b. Now assume the inputs arrive in the opposite order and give the new outputs.", prevFSM,
			want{valid: true, fragment: true, merge: true, topic: "Finite state machines"}},
		{"continua", "it", "Continua dall'esercizio precedente: si disegni lo schema finale.", prevSequential,
			want{valid: true, fragment: true, merge: true, topic: "Circuiti sequenziali"}},
		{"segue", "it", "(segue) Si completi la tabella con i valori mancanti.", prevPerformance,
			want{valid: true, fragment: true, merge: true, topic: "Valutazione delle prestazioni"}},
		{"continued", "en", "Continued: give the product of sums form as well.", prevKarnaugh,
			want{valid: true, fragment: true, merge: true, topic: "Karnaugh maps", variation: "product of sums form"}},
		{"lower case", "it", "quindi si calcoli il tempo medio di accesso alla memoria.", prevCache,
			want{valid: true, fragment: true, merge: true, topic: "Memoria cache"}},
		{"previous circuit", "en", "Using the previous circuit, add an enable input and redraw the schematic.", prevCombinational,
			want{valid: true, fragment: true, merge: true, topic: "Combinational circuits"}},
		{"circuito precedente", "it", "Con riferimento al circuito precedente, si aggiunga un ingresso di reset sincrono.", prevSequential,
			want{valid: true, fragment: true, merge: true, topic: "Circuiti sequenziali"}},
		{"same machine", "en", "For the same machine, give a binary encoding and write the output equations.", prevFSM,
			want{valid: true, fragment: true, merge: true, topic: "Finite state machines"}},
		{"esercizio precedente", "it", "Si utilizzino i dati dell'esercizio precedente per ricavare il numero di istruzioni al secondo.", prevPerformance,
			want{valid: true, fragment: true, merge: true, topic: "Valutazione delle prestazioni"}},
		{"above", "en", "Using the values computed above, what fraction of the accesses are served directly?", prevCache,
			want{valid: true, fragment: true, merge: true, topic: "Cache memory"}},
		{"sopra", "it", "Come sopra, ma raddoppiando la dimensione complessiva.", prevCache,
			want{valid: true, fragment: true, merge: true, topic: "Memoria cache"}},
		{"a) lower case", "it", "a) si calcoli il numero di bit di tag e di indice.", prevCache,
			want{valid: true, fragment: true, merge: true, topic: "Memoria cache"}},
		{"strong own topic", "en", "b) Now encode the same value in IEEE 754 double precision.", prevCache,
			want{valid: true, fragment: true, merge: true, topic: "IEEE 754 floating point", variation: "double precision"}},
		{"fragment first item", "en", "b) Repeat using only NAND gates.", "",
			want{valid: true, fragment: true, merge: false, topic: "Boolean algebra", maxConf: 0.49}},

		// Not continuations.
		{"a) opener", "it", "a) Si consideri una cache associativa a 2 vie da 8 KB con blocchi da 64 byte.", prevPipeline,
			want{valid: true, topic: "Memoria cache", minConf: 0.55}},
		{"1. opener", "en", "1. Convert 25 to binary and to hexadecimal.", prevCache,
			want{valid: true, topic: "Number systems", minConf: 0.55}},
		{"Part a opener", "en", "Part a: design a Moore machine that outputs 1 after two consecutive 1s.", prevCache,
			want{valid: true, topic: "Finite state machines", minConf: 0.55}},
		{"new exercise heading", "it", "Esercizio 4. Si converta -19 in complemento a 2 su 6 bit.", prevCache,
			want{valid: true, topic: "Sistemi di numerazione", minConf: 0.55}},
		{"the previous state", "en", "Design a counter where the next value depends on the previous state and on input x, using T flip-flops.", prevCache,
			want{valid: true, topic: "Sequential circuits", minConf: 0.55}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Analyze(tt.lang, tt.text, tt.previous)
			if got.IsValidExercise != tt.want.valid || got.IsFragment != tt.want.fragment || got.ShouldMergeWithPrevious != tt.want.merge {
				t.Fatalf("valid/fragment/merge = %v/%v/%v, want %v/%v/%v (%+v)", got.IsValidExercise, got.IsFragment,
					got.ShouldMergeWithPrevious, tt.want.valid, tt.want.fragment, tt.want.merge, got)
			}
			if got.Topic != tt.want.topic {
				t.Errorf("topic = %q, want %q", got.Topic, tt.want.topic)
			}
			if tt.want.minConf > 0 && got.Confidence < tt.want.minConf {
				t.Errorf("confidence = %v, want >= %v", got.Confidence, tt.want.minConf)
			}
			if tt.want.maxConf > 0 && got.Confidence > tt.want.maxConf {
				t.Errorf("confidence = %v, want <= %v", got.Confidence, tt.want.maxConf)
			}
			if tt.want.variation != "" && !slices.Contains(got.Variations, tt.want.variation) {
				t.Errorf("variations = %q, want to contain %q", got.Variations, tt.want.variation)
			}
			checkInvariants(t, got)
		})
	}
}

// checkInvariants checks what every Result must satisfy.
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
	if len(r.Variations) > maxVariations {
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
	if n := len(r.Procedure); n < 3 || n > 6 {
		t.Errorf("procedure has %d steps", n)
	}
	if r.ShouldMergeWithPrevious && !r.IsFragment {
		t.Errorf("merge without fragment: %+v", r)
	}
}

func TestItalianAndEnglishNames(t *testing.T) {
	text := "Si consideri una cache associativa a 2 vie con politica LRU; si scomponga l'indirizzo in tag, indice e offset."
	it := Analyze("it", text, "")
	en := Analyze("en", text, "")
	if it.Topic != "Memoria cache" || en.Topic != "Cache memory" {
		t.Fatalf("topics %q / %q", it.Topic, en.Topic)
	}
	if it.CoreLoopName == en.CoreLoopName || !strings.Contains(it.CoreLoopName, "indirizzi") {
		t.Errorf("core loops %q / %q", it.CoreLoopName, en.CoreLoopName)
	}
	if len(it.Procedure) != len(en.Procedure) || it.Procedure[0] == en.Procedure[0] {
		t.Errorf("procedures not translated: %q / %q", it.Procedure, en.Procedure)
	}
	if !slices.Contains(it.Variations, "rimpiazzamento LRU") || !slices.Contains(en.Variations, "LRU replacement") {
		t.Errorf("variations %q / %q", it.Variations, en.Variations)
	}
	// Only the language differs.
	if it.Confidence != en.Confidence || it.Difficulty != en.Difficulty || it.IsFragment != en.IsFragment {
		t.Errorf("language changed the analysis: %+v / %+v", it, en)
	}
	// Unknown languages fall back to English.
	if got := Analyze("fr", text, ""); got.Topic != "Cache memory" {
		t.Errorf("fr topic %q", got.Topic)
	}
}

func TestEveryTopicIsComplete(t *testing.T) {
	all := append(slices.Clone(topicTable), generalTopic)
	seen := map[string]bool{}
	for _, tp := range all {
		for _, l := range append([]localized{tp.name, tp.coreLoop}, tp.procedure...) {
			if l.en == "" || l.it == "" {
				t.Errorf("%s: missing translation %+v", tp.key, l)
			}
		}
		if n := len(tp.procedure); n < 3 || n > 6 {
			t.Errorf("%s: %d procedure steps", tp.key, n)
		}
		// Core loop ids (derived from the names) are distinct and keep every word.
		for _, name := range []string{tp.coreLoop.en, tp.coreLoop.it} {
			id := examina.CoreLoopID(name)
			if seen[id] || strings.Contains(name, "/") {
				t.Errorf("%s: core loop %q gives id %q (duplicate or words glued)", tp.key, name, id)
			}
			seen[id] = true
		}
		if seen[tp.key] {
			t.Errorf("duplicate topic key %s", tp.key)
		}
		seen[tp.key] = true
	}
	if len(topicTable) < 11 {
		t.Errorf("only %d topics", len(topicTable))
	}
}

// TestKeywordsNormalized guards against keywords that can never match.
func TestKeywordsNormalized(t *testing.T) {
	var kws []string
	for _, tp := range topicTable {
		for _, k := range tp.keywords {
			kws = append(kws, k.text)
			if k.weight <= 0 {
				t.Errorf("%s: keyword %q has weight %d", tp.key, k.text, k.weight)
			}
		}
	}
	for _, c := range instructionCues {
		kws = append(kws, c.text)
	}
	for _, v := range variationTable {
		kws = append(kws, v.keywords...)
	}
	kws = append(kws, referenceCues...)
	kws = append(kws, hardCues...)
	for _, k := range kws {
		stem := strings.TrimSuffix(k, "*")
		if got := strings.TrimSpace(normalize(stem)); got != stem {
			t.Errorf("keyword %q is not normalized (%q)", k, got)
		}
	}
}

func TestConfidence(t *testing.T) {
	tests := []struct {
		best, second int
		lo, hi       float64
	}{
		{0, 0, 0, 0.49},
		{1, 0, 0, 0.49},
		{strongScore - 1, 0, 0, 0.49},
		{8, 8, 0, 0.49}, // a tie is ambiguous
		{strongScore, 0, 0.55, 0.95},
		{20, 0, 0.95, 0.95},
		{20, 10, 0.55, 0.80},
		{12, 11, 0.55, 0.60},
	}
	for _, tt := range tests {
		got := confidence(tt.best, tt.second)
		if got < tt.lo || got > tt.hi {
			t.Errorf("confidence(%d, %d) = %v, want in [%v, %v]", tt.best, tt.second, got, tt.lo, tt.hi)
		}
	}
	// A larger margin never lowers confidence.
	for second := 0; second < 10; second++ {
		if confidence(10, second) < confidence(10, second+1) {
			t.Errorf("confidence not monotone in margin at second=%d", second)
		}
	}
}

func TestDifficulty(t *testing.T) {
	long := strings.Repeat("Si consideri il circuito dato e se ne descriva il comportamento. ", 8)
	tests := []struct {
		name, text, want string
	}{
		{"short", "Convert 25 to binary.", "easy"},
		{"design", "Si progetti un contatore modulo 6 con flip-flop T.", "medium"},
		{"long with sub-points", long + "\na) primo punto.\nb) secondo punto.\nc) terzo punto.\nd) quarto punto.", "hard"},
		{"proof and design", "Si dimostri la correttezza e si progetti il circuito ottimizzando il numero minimo di porte.", "hard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := difficulty(tt.text, normalize(tt.text)); got != tt.want {
				t.Errorf("difficulty = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestContinuationSignals(t *testing.T) {
	tests := []struct{ text, want string }{
		{"b) Si ripeta.", signalSubPoint},
		{"[d] Draw it.", signalSubPoint},
		{"iii. Compute it.", signalSubPoint},
		{"(4) Compute it.", signalSubPoint},
		{"Parte 2 - Si disegni il circuito.", signalSubPoint},
		{"Point ii: give the table.", signalSubPoint},
		{"... e si completi la tabella.", signalContinued},
		{"Esercizio 3 (segue). Si completi la tabella.", signalContinued},
		{"CONTINUED Give the table.", signalContinued},
		{"poi si calcoli il CPI.", signalLowerCase},
		{"a) poi si calcoli il CPI.", signalLowerCase},
		{"Il risultato dell'esercizio precedente va riusato.", signalReference},
		{"Reuse the same cache.", signalReference},
		{"a) Si calcoli il CPI.", ""},
		{"1) Compute the CPI.", ""},
		{"Esercizio 2. Si calcoli il CPI.", ""},
		{"Exercise 3: compute the CPI.", ""},
		{"Il circuito seguente usa 3 flip-flop.", ""},
		{"0x1F è il valore iniziale del registro.", ""},
	}
	for _, tt := range tests {
		if got := continuation(tt.text, normalize(tt.text)); got != tt.want {
			t.Errorf("continuation(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Non è consentito l'uso", " non e consentito l uso "},
		{"  Two's-complement, PERCHÉ?  ", " two s complement perche "},
		{"", " "},
		{"$t0,0($s0)", " t0 0 s0 "},
	}
	for _, tt := range tests {
		if got := normalize(tt.in); got != tt.want {
			t.Errorf("normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLanguage(t *testing.T) {
	tests := []struct{ req, course, want string }{
		{"it", "en", "it"},
		{"", "it", "it"},
		{"IT-it", "", "it"},
		{"en", "it", "en"},
		{"", "", "en"},
		{"de", "it", "en"},
	}
	for _, tt := range tests {
		if got := Language(tt.req, tt.course); got != tt.want {
			t.Errorf("Language(%q, %q) = %q, want %q", tt.req, tt.course, got, tt.want)
		}
	}
}

func TestComplete(t *testing.T) {
	p := New()
	if p.Name() != "offline" || p.Model() != "heuristic-v1" {
		t.Fatalf("name/model %q/%q", p.Name(), p.Model())
	}
	var _ examina.Provider = p
	req := examina.Request{
		Course:   examina.Course{Code: "ADE", Language: "it"},
		Exercise: examina.Exercise{ID: "e2", Text: "b) Si ripeta usando solo porte NAND."},
		Previous: prevKarnaugh,
	}
	resp, err := p.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Heuristic || resp.Model != "heuristic-v1" {
		t.Errorf("heuristic/model = %v/%q", resp.Heuristic, resp.Model)
	}
	if resp.InputTokens != EstimateTokens(req.Exercise.Text)+EstimateTokens(req.Previous) || resp.OutputTokens != EstimateTokens(resp.Text) || resp.OutputTokens == 0 {
		t.Errorf("tokens in/out = %d/%d", resp.InputTokens, resp.OutputTokens)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(resp.Text), &keys); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, resp.Text)
	}
	wantKeys := []string{"is_valid_exercise", "is_fragment", "should_merge_with_previous", "topic", "core_loop_name",
		"procedure", "difficulty", "variations", "confidence"}
	var gotKeys []string
	for k := range keys {
		gotKeys = append(gotKeys, k)
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("keys = %v, want %v", gotKeys, wantKeys)
	}
	var a examina.Analysis
	if err := json.Unmarshal([]byte(resp.Text), &a); err != nil {
		t.Fatal(err)
	}
	if !a.ShouldMergeWithPrevious || a.Topic != "Mappe di Karnaugh" {
		t.Errorf("analysis %+v", a)
	}

	// The rendered prompt, when present, is what the input estimate counts.
	req.Prompt = examina.Prompt{System: strings.Repeat("s", 400), User: strings.Repeat("u", 40)}
	if resp, _ := p.Complete(context.Background(), req); resp.InputTokens != 110 {
		t.Errorf("prompt input tokens = %d, want 110", resp.InputTokens)
	}
	// Invalid items still marshal lists as [].
	resp, _ = p.Complete(context.Background(), examina.Request{Exercise: examina.Exercise{Text: "Pagina 1 di 2"}})
	if !strings.Contains(resp.Text, `"procedure":[]`) || !strings.Contains(resp.Text, `"variations":[]`) {
		t.Errorf("invalid item JSON: %s", resp.Text)
	}
}

func TestCompleteContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New().Complete(ctx, examina.Request{Exercise: examina.Exercise{Text: prevCache}})
	var pe *examina.ProviderError
	if !errors.As(err, &pe) || pe.Kind != examina.KindTransient || pe.Reason != "canceled" || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// TestDeterminism runs the same requests repeatedly and concurrently: the text must be
// identical every time.
func TestDeterminism(t *testing.T) {
	texts := []string{prevKarnaugh, prevCombinational, prevCache, prevPipeline, prevAssembly, prevSequential, prevFSM,
		prevPerformance, "b) Repeat using only NAND gates.", "Istruzioni: tempo a disposizione 2 ore."}
	p := New()
	want := make([]string, len(texts))
	for i, txt := range texts {
		resp, err := p.Complete(context.Background(), examina.Request{Language: "en", Exercise: examina.Exercise{Text: txt}, Previous: texts[(i+1)%len(texts)]})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = resp.Text
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(texts))
	for range 8 {
		wg.Go(func() {
			for i, txt := range texts {
				resp, _ := p.Complete(context.Background(), examina.Request{Language: "en", Exercise: examina.Exercise{Text: txt}, Previous: texts[(i+1)%len(texts)]})
				if resp.Text != want[i] {
					errs <- txt
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for txt := range errs {
		t.Errorf("non-deterministic answer for %q", txt)
	}
	if a, b := Analyze("it", prevFSM, prevCache), Analyze("it", prevFSM, prevCache); !reflect.DeepEqual(a, b) {
		t.Errorf("Analyze differs: %+v / %+v", a, b)
	}
}

func TestHas(t *testing.T) {
	norm := normalize("La cache associativa a 2 vie; flip-flop JK e multiplexer.")
	tests := []struct {
		kw   string
		want bool
	}{
		{"cache", true},
		{"associativa a", true},
		{"associativ*", true},
		{"ssociativa", false},
		{"cach", false},
		{"multiplexer*", true},
		{"jk", true},
		{"flip flop", true},
		{"vie flop", false},
		{"la", true},
		{"multiplexer", true},
		{"*", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := has(norm, tt.kw); got != tt.want {
			t.Errorf("has(%q) = %v, want %v", tt.kw, got, tt.want)
		}
	}
}

func BenchmarkAnalyze(b *testing.B) {
	for b.Loop() {
		Analyze("it", prevPipeline+" "+prevCache, prevKarnaugh)
	}
}
