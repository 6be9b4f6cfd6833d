package offline

import "strings"

// This file finds the task an exercise sets: its imperative verbs ("calcolare",
// "si determini", "decompose", "prove") and the words after them. The verbs are the
// language's generic verbs of instruction, not a subject's vocabulary; Italian
// infinitives and "si" + subjunctive forms are also recognised by their endings.

// taskVerbsIT are Italian verbs of instruction, as infinitives.
var taskVerbsIT = set(`calcolare determinare dimostrare verificare scrivere disegnare rappresentare descrivere spiegare illustrare definire
	progettare realizzare implementare costruire trovare ricavare risolvere studiare stabilire valutare stimare confrontare discutere analizzare
	tracciare mostrare indicare elencare classificare convertire tradurre semplificare minimizzare normalizzare decomporre esprimere applicare
	simulare eseguire ordinare inserire cancellare eliminare individuare identificare enunciare formulare derivare integrare calcolarne
	risolverla completare compilare riempire giustificare motivare dire fornire dare proporre modificare ottimizzare fattorizzare sviluppare
	approssimare interpretare testare provare controllare contare stampare leggere ripetere rifare tabulare disegnarne scriverne`)

// taskVerbsEN are English verbs of instruction.
var taskVerbsEN = set(`compute calculate determine find prove show verify check write draw sketch represent describe explain illustrate define design
	implement build construct derive solve study establish evaluate estimate compare discuss analyse analyze trace list classify convert translate
	simplify minimize minimise normalize normalise decompose express apply simulate execute run sort insert delete remove identify state formulate
	integrate differentiate complete fill justify give provide propose modify optimize optimise factor factorize develop approximate interpret test
	count print read repeat tabulate outline enumerate argue demonstrate obtain rewrite transform reduce expand specify plot
	perform rank select choose predict assess measure`)

// irregularIT maps "si" + subjunctive forms whose infinitive the endings do not give.
var irregularIT = map[string]string{
	"esegua": "eseguire", "eseguano": "eseguire", "dica": "dire", "dicano": "dire", "dia": "dare", "diano": "dare", "faccia": "fare",
	"facciano": "fare", "traduca": "tradurre", "traducano": "tradurre", "produca": "produrre", "ponga": "porre", "scomponga": "scomporre",
	"decomponga": "decomporre", "proponga": "proporre", "esponga": "esporre", "componga": "comporre", "segua": "seguire", "fornisca": "fornire",
	"dimostri": "dimostrare", "costruisca": "costruire", "definisca": "definire", "individui": "individuare", "inserisca": "inserire",
	"elimini": "eliminare", "applichi": "applicare", "verifichi": "verificare", "spieghi": "spiegare", "indichi": "indicare", "semplifichi": "semplificare",
	"giustifichi": "giustificare", "identifichi": "identificare", "classifichi": "classificare", "modifichi": "modificare", "tracci": "tracciare",
	"enunci": "enunciare", "studi": "studiare",
}

// setupVerbs set the scene rather than ask for something.
var setupVerbs = set(`considerare consideri considerino supporre supponga supponiamo assumere assuma sia siano abbia abbiano dato data dati date
	avere essere volere vuole vogliono dispone disporre consider suppose assume let given be have is are`)

// task is the task an exercise sets: its main verb, the normalized words after it in
// the same sentence, and how many requests the text makes.
type task struct {
	verb     string   // the verb as a lemma: "calcolare", "compute"
	after    []string // normalized words after the verb in its sentence
	requests int      // task verbs and questions in the text
}

// findTask reads the task of text (its heading already removed) in lang.
func findTask(lang, text string) task {
	var t task
	for _, sent := range clauses(text) {
		if strings.HasSuffix(sent, "?") {
			t.requests++
		}
		body, _, _, _ := subPoint(trimLead(sent))
		ws := words(body)
		for i := 0; i < len(ws) && i < 40; i++ {
			lemma, n := verbAt(lang, ws, i)
			if lemma == "" {
				continue
			}
			t.requests++
			if t.verb == "" {
				t.verb = lemma
				t.after = ws[i+n:]
			}
			break
		}
	}
	if t.verb == "" && t.requests > 0 {
		// Only questions: the task is to answer them.
		if lang == langIT {
			t.verb = "rispondere"
		} else {
			t.verb = "answer"
		}
	}
	return t
}

// verbAt recognises a task verb at ws[i] and returns its lemma and how many words it
// takes ("si calcoli" is two). At the start of a sentence (i == 0, or after "e"/"and",
// "quindi"/"then") any known verb counts; inside it only Italian "si" forms,
// infinitives after "di" ("si chiede di calcolare") and English "to" + verb after
// "asked"/"required".
func verbAt(lang string, ws []string, i int) (string, int) {
	w := ws[i]
	start := i == 0 || isConnector(ws[i-1])
	switch lang {
	case langIT:
		if w == "si" && i+1 < len(ws) {
			if l := subjunctiveIT(ws[i+1]); l != "" && !setupVerbs[l] && !setupVerbs[ws[i+1]] {
				return l, 2
			}
			return "", 0
		}
		if l := infinitiveIT(w); l != "" && !setupVerbs[l] && (start || (i > 0 && (ws[i-1] == "di" || ws[i-1] == "a"))) {
			return l, 1
		}
		if start {
			if l := imperativeIT(w); l != "" {
				return l, 1
			}
		}
	case langEN:
		if taskVerbsEN[w] && !setupVerbs[w] && (start || (i > 0 && ws[i-1] == "to" && i > 1 && (ws[i-2] == "asked" || ws[i-2] == "required" || ws[i-2] == "want"))) {
			return w, 1
		}
	}
	return "", 0
}

// isConnector is a word after which a new request may start inside a sentence.
func isConnector(w string) bool {
	switch w {
	case "e", "ed", "quindi", "poi", "infine", "inoltre", "and", "then", "finally", "also", "hence":
		return true
	}
	return false
}

// infinitiveIT returns w when it is an Italian infinitive of a verb of instruction,
// with or without an enclitic pronoun ("calcolarne" → "calcolare").
func infinitiveIT(w string) string {
	if taskVerbsIT[w] {
		for _, enc := range []string{"ne", "la", "lo", "le", "li"} {
			if base, ok := strings.CutSuffix(w, enc); ok && len(base) > 4 && taskVerbsIT[base+"e"] {
				return base + "e"
			}
		}
		return w
	}
	return ""
}

// subjunctiveIT turns the "si" form of a verb ("calcoli", "scriva", "costruisca",
// "disegnino") into its infinitive when that infinitive is a verb of instruction.
func subjunctiveIT(w string) string {
	if l, ok := irregularIT[w]; ok {
		return l
	}
	var cands []string
	switch {
	case strings.HasSuffix(w, "iscano"):
		cands = []string{w[:len(w)-6] + "ire"}
	case strings.HasSuffix(w, "isca"):
		cands = []string{w[:len(w)-4] + "ire"}
	case strings.HasSuffix(w, "ino"):
		cands = []string{w[:len(w)-3] + "are"}
	case strings.HasSuffix(w, "ano"):
		b := w[:len(w)-3]
		cands = []string{b + "ere", b + "ire"}
	case strings.HasSuffix(w, "i"):
		b := w[:len(w)-1]
		cands = []string{strings.TrimSuffix(b, "h") + "are"}
	case strings.HasSuffix(w, "a"):
		b := w[:len(w)-1]
		cands = []string{b + "ere", b + "ire"}
	}
	for _, c := range cands {
		if taskVerbsIT[c] {
			return c
		}
	}
	return ""
}

// imperativeIT turns an informal imperative at the start of a sentence ("calcola",
// "scrivi", "determina") into its infinitive when that is a verb of instruction.
func imperativeIT(w string) string {
	var cands []string
	switch {
	case strings.HasSuffix(w, "isci"):
		cands = []string{w[:len(w)-4] + "ire"}
	case strings.HasSuffix(w, "a"):
		cands = []string{w[:len(w)-1] + "are"}
	case strings.HasSuffix(w, "i"):
		b := w[:len(w)-1]
		cands = []string{b + "ere", b + "ire"}
	}
	for _, c := range cands {
		if taskVerbsIT[c] {
			return c
		}
	}
	return ""
}

// clauses cuts text into sentences and the sentences at commas and colons, where a
// new request often starts: "Given the relation R, find its keys".
func clauses(text string) []string {
	var out []string
	for _, s := range splitSentences(text) {
		for _, c := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ':' }) {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}
