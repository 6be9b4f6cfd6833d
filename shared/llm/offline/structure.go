package offline

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file reads an item's structure: whether it opens with its own exercise heading,
// with a sub-point mark or a continuation; which lines are page footers; whether it is
// exam instructions (rules, name and matricola blanks, a time budget, a header with a
// date) rather than a task; which sentences set the task and which sub-questions it has.
// Every rule looks at how the item starts or at a line's shape, never at a bare word
// somewhere in the text.

var (
	// reHeading opens a new exercise: "Esercizio 3", "Exercise 2.", "Q4", "Domanda 1)".
	reHeading = regexp.MustCompile(`(?i)^(esercizio|exercise|domanda|question|problema|problem|quesito|task|ex\.?|es\.?|q)\s*\d+\b`)
	// reHeadingWord is a heading word alone at the start: "Esercizio (6 punti)".
	reHeadingWord = regexp.MustCompile(`(?i)^(esercizio|exercise|domanda|question|problema|problem|quesito)\b`)
	// reLetterMark is a lettered or roman sub-point at the start: "b)", "(c)", "[d]", "ii)".
	reLetterMark = regexp.MustCompile(`^[\(\[]?([A-Za-z]|ii|iii|iv|vi|vii|viii|ix|II|III|IV|VI|VII|VIII|IX)\s?[\)\]](\s|$)`)
	// reLetterDot is a lower-case lettered or roman sub-point with a dot: "b. ", "iii. ".
	reLetterDot = regexp.MustCompile(`^([a-h]|ii|iii|iv|vi|vii|viii|ix)\.(\s|$)`)
	// reNumberMark is a numbered sub-point at the start: "2.", "3)", "(4)", "1.2".
	reNumberMark = regexp.MustCompile(`^[\(\[]?(\d{1,2})(?:\.(\d{1,2}))?[\)\]\.](\s|$)`)
	// reNamedMark is "Punto 3", "Parte b", "Part b", "Point ii".
	reNamedMark = regexp.MustCompile(`(?i)^(punto|parte|part|point|step|sottopunto|sub-question|subquestion|item|richiesta)\s+([a-z]|\d{1,2}|[ivx]{1,4})\b[\s\).:,-]*`)
	// reContinued is "Continua", "(segue)", "Continued", "..." at the start.
	reContinued = regexp.MustCompile(`(?i)^([\(\[]\s*)?(continua|continued|continuazione|continuation|segue|seguito|cont\.)\b|^(\.\.\.|…)`)
	// reSubLine is a sub-question line inside a text: "a) ...", "(b) ...", "2. ...", "ii) ...".
	reSubLine = regexp.MustCompile(`(?m)^\s*(?:[\(\[]?(?:[a-hA-H]|i|ii|iii|iv|v|vi)[\)\]]|[a-h]\.|\d{1,2}[\)\.]|\(\d{1,2}\))\s+(.+)$`)
	// reInlineSub is an inline sub-question mark: " a) ", "; b) ", ": (c) ".
	reInlineSub = regexp.MustCompile(`(?:^|[\s;:.])[\(\[]?([a-h])[\)\]]\s+`)
	// rePageLine is a page footer: "Pagina 2 di 4", "Page 3 of 5", "pag. 2/4", "- 3 -", "3/5".
	rePageLine = regexp.MustCompile(`(?i)^\s*(?:(?:pagina|page|pag\.?|p\.|seite|página)\s*\d+(?:\s*(?:di|of|/|von|de)\s*\d+)?|[-–—]\s*\d+\s*[-–—]|\d+\s*/\s*\d+)\s*$`)
	// reBlank is a form blank: "Nome: ______", "Matricola ..........".
	reBlank = regexp.MustCompile(`(?:_{3,}|\.{6,}|…{3,})`)
	// reDate is a date: "12/06/2024", "2024-06-12", "12.06.2024".
	reDate = regexp.MustCompile(`\b\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)?\d{2}\b|\b(?:19|20)\d{2}-\d{2}-\d{2}\b`)
	// reDuration is a time budget: "2 ore", "90 minuti", "2 hours", "120 min", "2h".
	reDuration = regexp.MustCompile(`(?i)\b\d+\s*(?:ore|ora|hours?|minuti|minutes|mins?|h)\b`)
	// reMarks is a score: "(6 punti)", "[10 marks]", "5 pts".
	reMarks = regexp.MustCompile(`(?i)[\(\[]\s*\d+(?:[.,]\d+)?\s*(?:punti|punto|pt|pts|points?|marks?)\s*[\)\]]`)
)

// blankLabels are the words of a form to fill in; they count only next to a blank.
var blankLabels = []string{"nome", "cognome", "matricola", "name", "surname", "student", "firma", "signature", "corso di laurea", "cdl", "id"}

// ruleCues are phrases of exam rules (normalized).
var ruleCues = []string{
	"non e consentito", "non e permesso", "non sono ammessi", "non e ammesso", "e vietato", "sono vietati", "e consentito", "sono ammessi",
	"e ammesso", "e possibile consultare", "tempo a disposizione", "durata della prova", "durata dell esame", "la prova dura",
	"not allowed", "not permitted", "are allowed", "is allowed", "are permitted", "is permitted", "are forbidden", "is forbidden",
	"time allowed", "you have", "write your name", "answer all", "rispondere a tutte", "svolgere tutti", "buon lavoro", "good luck",
	"leggere attentamente", "read carefully", "read all", "closed book", "open book", "consegnare", "hand in", "bella copia", "brutta copia",
	"total marks", "punteggio totale", "punteggio massimo", "maximum score", "voto finale", "for full marks", "show your work", "show all your work",
	"calcolatrice", "calcolatrici", "calculator", "calculators", "telefoni", "cellulari", "mobile phones", "smartphone", "dispositivi elettronici",
	"electronic devices", "libri", "appunti", "books", "notes", "fogli", "sheets", "sheet", "turn off", "spegnere",
}

// headerCues are words of an exam header (normalized).
var headerCues = []string{"esame", "exam", "examination", "appello", "prova scritta", "prova intermedia", "compito", "written", "midterm", "final", "sessione", "session", "a a", "anno accademico", "academic year"}

// monthWords are months in Italian and English.
var monthWords = []string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre",
	"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}

// opensHeading reports whether s opens with its own exercise heading.
func opensHeading(s string) bool {
	s = trimLead(s)
	return reHeading.MatchString(s) || reHeadingWord.MatchString(s)
}

// trimLead drops leading spaces and bullets.
func trimLead(s string) string { return strings.TrimLeft(s, " \t\r\n•-–—*·#>") }

// stripHeading removes an exercise heading and its marks from the start: "Esercizio 3
// (6 punti)." → the rest.
func stripHeading(s string) string {
	s = trimLead(s)
	if m := reHeading.FindStringIndex(s); m != nil {
		s = s[m[1]:]
	} else if m := reHeadingWord.FindStringIndex(s); m != nil {
		s = s[m[1]:]
	}
	s = strings.TrimLeft(s, " \t.:)-–—")
	if m := reMarks.FindStringIndex(s); m != nil && m[0] == 0 {
		s = s[m[1]:]
	}
	return strings.TrimLeft(s, " \t\r\n.:)-–—")
}

// Fragment signals, as reported by fragmentSignal.
const (
	signalContinued = "continued"
	signalSubPoint  = "sub-point"
	signalLowerCase = "lower-case start"
	signalReference = "reference to the previous exercise"
)

// fragmentSignal returns why text continues the previous item, or "": it opens with a
// continuation mark, a sub-point that is not a first one, a lower-case word, or an
// opening clause that refers back ("con riferimento all'esercizio precedente", "using
// the same relation as above"). An item that opens with its own exercise heading is
// never a fragment. previous is the previous item's text, used to tell a numbered
// sub-point ("2.") from a numbered exercise.
func fragmentSignal(text, previous string) string {
	s := trimLead(text)
	if s == "" || opensHeading(s) {
		return ""
	}
	if reContinued.MatchString(s) {
		return signalContinued
	}
	body, opener, isSub, numeric := subPoint(s)
	if isSub && !opener && (!numeric || numberedBefore(s, previous)) {
		return signalSubPoint
	}
	afterColon := isSub && strings.HasSuffix(strings.TrimSpace(s[:len(s)-len(body)]), ":")
	if !afterColon {
		b := strings.TrimLeft(body, " \t\r\n\"'«“")
		if r, size := utf8.DecodeRuneInString(b); unicode.IsLower(r) {
			if next, _ := utf8.DecodeRuneInString(b[size:]); unicode.IsLetter(next) || next == ' ' {
				return signalLowerCase
			}
		}
	}
	if reSubRef.MatchString(body) || refersBack(openingClause(body)) {
		return signalReference
	}
	return ""
}

// numberedBefore reports whether the numbered sub-point at the start of s follows the
// previous item's numbering: "2." after an item with a "1." line (or starting "1."),
// "1.2" after anything.
func numberedBefore(s, previous string) bool {
	m := reNumberMark.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	if m[2] != "" {
		return true
	}
	n, _ := strconv.Atoi(m[1])
	want := strconv.Itoa(n - 1)
	for _, line := range strings.Split(previous, "\n") {
		l := strings.TrimLeft(line, " \t(")
		if strings.HasPrefix(l, want+".") || strings.HasPrefix(l, want+")") {
			return true
		}
	}
	return false
}

// subPoint recognises a sub-point mark at the start of s. It returns the text after the
// mark, whether the mark is a first sub-point (a, i, 1), whether there is a mark, and
// whether the mark is a bare number.
func subPoint(s string) (body string, opener, ok, numeric bool) {
	if m := reNamedMark.FindStringSubmatch(s); m != nil {
		v := strings.ToLower(m[2])
		return s[len(m[0]):], v == "a" || v == "i" || v == "1" || v == "0", true, false
	}
	if m := reLetterMark.FindStringSubmatch(s); m != nil {
		v := strings.ToLower(m[1])
		return s[len(m[0]):], v == "a" || v == "i", true, false
	}
	if m := reLetterDot.FindStringSubmatch(s); m != nil {
		return s[len(m[0]):], m[1] == "a" || m[1] == "i", true, false
	}
	if m := reNumberMark.FindStringSubmatch(s); m != nil {
		first := m[1] == "1" || m[1] == "0"
		if m[2] != "" {
			first = m[2] == "1"
		}
		return s[len(m[0]):], first, true, true
	}
	return s, false, false, false
}

// openingClause is the normalized start of s: up to the first full stop, question
// mark, colon or line break, at most 16 words.
func openingClause(s string) string {
	end := len(s)
	for i, r := range s {
		if r == '\n' || r == '?' || r == ':' || r == ';' || (r == '.' && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n')) {
			end = i
			break
		}
	}
	ws := words(s[:end])
	if len(ws) > 16 {
		ws = ws[:16]
	}
	return " " + strings.Join(ws, " ") + " "
}

// backNouns are what an opening clause refers back to.
const backNouns = `(?:esercizio|punto|quesito|domanda|richiesta|parte|programma|codice|sistema|schema|relazione|tabella|grafo|funzione|matrice|insieme|processo|processi|rete|circuito|macchina|automa|risultato|risultati|dati|testo|caso|problema|exercise|question|part|point|item|program|code|system|schema|relation|relations|table|tables|graph|function|matrix|set|process|processes|circuit|machine|result|results|data|database|query|queries|setting|scenario|model|distribution|sample|problem|case|answer)`

// reBackRef are the referring openings (on the normalized opening clause): a noun
// with "precedente"/"sopra"/"above", "stesso"/"same" + noun, "con riferimento
// al ... precedente", "as before".
var reBackRef = []*regexp.Regexp{
	regexp.MustCompile(` (?:con riferimento|in riferimento|facendo riferimento|riferendosi|rispetto|relativamente|tornando|riprendendo|sempre con riferimento) (?:\w+ ){0,3}(?:precedent[ei]|sopra|appena \w+)`),
	regexp.MustCompile(` (?:il|lo|la|l|i|gli|le|al|allo|alla|all|ai|agli|alle|dal|dallo|dalla|nel|nello|nella|sul|sullo|sulla|del|dello|della|dei|degli|delle) \w+ (?:precedent[ei]|sopra|di cui sopra|appena \w+)`),
	regexp.MustCompile(` ` + backNouns + ` (?:precedent[ei]|sopra|di cui sopra)`),
	regexp.MustCompile(` (?:stess[oaie]|medesim[oaie]) \w+`),
	regexp.MustCompile(` (?:come prima|come sopra|come nel punto precedente|come in precedenza|precedentemente|in precedenza|nel punto precedente|al punto precedente)`),
	regexp.MustCompile(` (?:the|this|these|that|those) (?:same|previous|preceding|earlier|above) \w+`),
	regexp.MustCompile(` (?:same|previous|preceding|earlier) ` + backNouns),
	regexp.MustCompile(` (?:the|this|these) (?:\w+ ){1,2}(?:above|from before|from the previous \w+|of the previous \w+|in the previous \w+)`),
	regexp.MustCompile(` (?:as before|as above|from above|as in the previous|in the previous part|from part [a-h]|of part [a-h]|in part [a-h]|continuing|continued from|with reference to the previous)`),
}

// reSubRef opens with a reference to a sub-point of the previous item: "For query
// (ii), ...", "Nel caso (b), ...".
var reSubRef = regexp.MustCompile(`(?i)^(?:for|in|per|nel|nella|nel caso|riguardo a|riguardo al|quanto a|about)\s+(?:the\s+|la\s+|il\s+|lo\s+)?[\p{L}-]+\s+\((?:[ivx]{1,4}|[a-h]|\d{1,2})\)`)

// refersBack reports whether the normalized opening clause refers to a previous item.
func refersBack(clause string) bool {
	for _, re := range reBackRef {
		if re.MatchString(clause) {
			return true
		}
	}
	return false
}

// isPageLine reports whether line is a page footer or a page number alone.
func isPageLine(line string) bool {
	return rePageLine.MatchString(strings.TrimSpace(line))
}

// instructionEvidence scores how much text reads like exam instructions or a header:
// rules of the exam, blanks to fill in, a time budget, a header with a date, a score
// total. Every cue is a phrase or a shape, not a word alone.
func instructionEvidence(raw, norm string) int {
	score := 0
	for _, c := range ruleCues {
		if has(norm, c) {
			score++
		}
	}
	if (strings.Contains(raw, "___") || strings.Contains(raw, "......") || strings.Contains(raw, "………")) && reBlank.MatchString(raw) {
		for _, l := range blankLabels {
			if has(norm, l) {
				score += 2
				break
			}
		}
	}
	if (has(norm, "durata") || has(norm, "duration") || has(norm, "tempo") || has(norm, "time") || has(norm, "dura") || has(norm, "disposizione") || has(norm, "you have")) && reDuration.MatchString(raw) {
		score += 2
	}
	header := false
	for _, h := range headerCues {
		if has(norm, h) {
			header = true
			break
		}
	}
	if header {
		dated := reDate.MatchString(raw)
		for _, m := range monthWords {
			if has(norm, m) {
				dated = true
				break
			}
		}
		if dated {
			score += 2
		}
	}
	for _, w := range []string{" istruzioni ", " instructions ", " regole ", " rules ", " avvertenze ", " norme ", " informazioni "} {
		if strings.HasPrefix(norm, w) {
			score += 2
			break
		}
	}
	return score
}

// splitSentences cuts s into sentences at ".", "?", "!", ";" followed by a space or a
// line break, and at line breaks; empty pieces are dropped.
func splitSentences(s string) []string {
	var out []string
	start := 0
	flush := func(end int) {
		if p := strings.TrimSpace(s[start:end]); p != "" {
			out = append(out, p)
		}
		start = end
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			flush(i)
		case '.', '?', '!', ';':
			if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n' {
				flush(i + 1)
			}
		}
	}
	flush(len(s))
	return out
}

// subQuestions returns the sub-questions of text: the lines opening with a sub-point
// mark ("a) ...", "2. ..."), else the pieces after inline marks (" a) ... b) ...").
func subQuestions(text string) []string {
	var out []string
	for _, m := range reSubLine.FindAllStringSubmatch(text, -1) {
		if q := strings.TrimSpace(m[1]); q != "" {
			out = append(out, q)
		}
	}
	if len(out) >= 2 {
		return out
	}
	idx := reInlineSub.FindAllStringSubmatchIndex(text, -1)
	if len(idx) < 2 {
		return out
	}
	out = out[:0]
	for i, m := range idx {
		end := len(text)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		if q := strings.TrimSpace(strings.TrimRight(text[m[1]:end], " ;,")); q != "" {
			out = append(out, q)
		}
	}
	return out
}

// countSentences counts the ends of sentences and requests: ".", "?", "!", ";", ":"
// followed by a space or the end of the text.
func countSentences(raw string) int {
	n := 0
	for i := 0; i < len(raw); i++ {
		if strings.IndexByte(".?!;:", raw[i]) < 0 {
			continue
		}
		if i+1 == len(raw) || strings.IndexByte(" \t\r\n", raw[i+1]) >= 0 {
			n++
		}
	}
	return n
}

// hardCues are phrases that make an exercise harder: proofs, design, optimisation.
var hardCues = []string{"dimostrare", "dimostri", "si dimostri", "prove", "proof", "progettare", "si progetti", "design", "ottimizzare",
	"optimize", "optimise", "ricorsiva", "recursive", "numero minimo", "minimum number", "derive", "ricavare", "si ricavi"}

// difficulty grades a text from its length, its requests and sub-points, and its hard
// cues.
func difficulty(raw, norm string, subs int) string {
	points := 0
	switch n := utf8.RuneCountInString(raw); {
	case n >= 400:
		points += 2
	case n >= 200:
		points++
	}
	if countSentences(raw) >= 3 {
		points++
	}
	switch {
	case subs >= 4:
		points += 2
	case subs >= 2:
		points++
	}
	hard := 0
	for _, c := range hardCues {
		if has(norm, c) {
			hard++
		}
	}
	if hard > 0 {
		points += min(hard+1, 3)
	}
	switch {
	case points >= 4:
		return "hard"
	case points >= 2:
		return "medium"
	}
	return "easy"
}

// tiny reports whether s is too short to be an exercise: fewer than 12 letters or fewer
// than 3 words.
func tiny(s string) bool {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n < 12 || len(strings.Fields(s)) < 3
}
