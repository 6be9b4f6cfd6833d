package offline

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// normalize lowers s, strips the accents of Latin letters and turns every run of
// characters that are not letters or digits into one space. The result starts and ends
// with a space so that keywords can be matched on word boundaries.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(' ')
	space := true
	for _, r := range s {
		r = foldAccent(unicode.ToLower(r))
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			space = false
			continue
		}
		if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	if !space {
		b.WriteByte(' ')
	}
	return b.String()
}

// foldAccent maps the accented Latin letters used in Italian (and a few more) to their
// base letter.
func foldAccent(r rune) rune {
	switch r {
	case 'à', 'á', 'â', 'ä', 'ã', 'å':
		return 'a'
	case 'è', 'é', 'ê', 'ë':
		return 'e'
	case 'ì', 'í', 'î', 'ï':
		return 'i'
	case 'ò', 'ó', 'ô', 'ö', 'õ':
		return 'o'
	case 'ù', 'ú', 'û', 'ü':
		return 'u'
	case 'ç':
		return 'c'
	case 'ñ':
		return 'n'
	}
	return r
}

// has reports whether the normalized text norm contains the keyword kw as whole words,
// or as a word prefix when kw ends with "*".
func has(norm, kw string) bool {
	stem, prefix := strings.CutSuffix(kw, "*")
	if stem == "" {
		return false
	}
	for i := 0; i < len(norm); {
		j := strings.Index(norm[i:], stem)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(stem)
		if (j == 0 || norm[j-1] == ' ') && (prefix || end == len(norm) || norm[end] == ' ') {
			return true
		}
		i = j + 1
	}
	return false
}

// letterCount counts the letters of s.
func letterCount(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n
}

// tiny reports whether s is too short to be an exercise: fewer than 12 letters or fewer
// than 3 words.
func tiny(s string) bool {
	return letterCount(s) < 12 || len(strings.Fields(s)) < 3
}

// instructionCues are phrases that belong to exam rules and headers, not to exercises.
var instructionCues = []keyword{
	{"tempo a disposizione", 3}, {"durata della prova", 3}, {"durata dell esame", 3}, {"time allowed", 3}, {"durata", 1}, {"duration", 1},
	{"non e consentito", 3}, {"non e permesso", 3}, {"non sono ammessi", 3}, {"non e ammesso", 3}, {"e vietato", 3}, {"e consentito", 1}, {"sono ammessi", 1},
	{"not allowed", 2}, {"not permitted", 2}, {"are allowed", 1}, {"is allowed", 1},
	{"write your name", 3}, {"answer all questions", 3}, {"answer all the questions", 3}, {"rispondere a tutte", 3}, {"svolgere tutti gli esercizi", 3},
	{"nome e cognome", 2}, {"cognome e nome", 2}, {"cognome", 2}, {"matricola", 2}, {"student id", 2}, {"student number", 2},
	{"calcolatric*", 1}, {"calculator*", 1}, {"closed book", 2}, {"open book", 2}, {"libri", 1}, {"books", 1}, {"appunti", 1}, {"notes", 1},
	{"telefon*", 1}, {"cellular*", 1}, {"mobile phone*", 1}, {"smartphone*", 1}, {"dispositivi elettronici", 2}, {"electronic devices", 2},
	{"buon lavoro", 2}, {"good luck", 2}, {"leggere attentamente", 2}, {"read carefully", 2}, {"read the questions", 2},
	{"prova scritta", 2}, {"written exam", 2}, {"appello", 1}, {"final exam", 1}, {"total marks", 2}, {"punteggio totale", 2}, {"punteggio", 1},
	{"consegnare", 1}, {"consegna", 1}, {"hand in", 1}, {"fogli", 1}, {"foglio", 1}, {"bella copia", 2}, {"brutta copia", 2},
	{"istruzioni per", 2}, {"istruzioni generali", 3}, {"avvertenze", 2}, {"regole", 1}, {"rules", 1}, {"exam instructions", 3}, {"general instructions", 3},
}

// headerWords and dateWords make an exam heading together: "Esame di ... 12 giugno 2024".
var (
	headerWords = []string{"esame", "exam", "appello", "prova", "compito"}
	dateWords   = []string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
		"ottobre", "novembre", "dicembre", "january", "february", "march", "april", "may", "june", "july", "august",
		"september", "october", "november", "december"}
	durationUnits = []string{"ore", "ora", "hour", "hours", "minuti", "minutes", "min", "mins"}
	pageWords     = []string{"pagina", "page", "pag"}
)

// reLabelledDuration is "Durata: 2", "Tempo: 90" in the lower-cased raw text.
var reLabelledDuration = regexp.MustCompile(`(durata|duration|tempo|time)\s*:\s*\d`)

// isNumber reports whether the token is all ASCII digits.
func isNumber(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return false
		}
	}
	return true
}

// isYear reports whether the token is a year of this century, "2000".."2099".
func isYear(tok string) bool {
	return len(tok) == 4 && isNumber(tok) && tok[:2] == "20"
}

// headerLike reports whether the tokens contain an exam word and a date.
func headerLike(norm string, toks []string) bool {
	if !slices.ContainsFunc(headerWords, func(w string) bool { return has(norm, w) }) {
		return false
	}
	return slices.ContainsFunc(toks, isYear) || slices.ContainsFunc(dateWords, func(w string) bool { return has(norm, w) })
}

// durationLike reports whether the tokens contain a time budget: "2 ore", "90 minutes".
func durationLike(toks []string) bool {
	for i := 0; i+1 < len(toks); i++ {
		if isNumber(toks[i]) && slices.Contains(durationUnits, toks[i+1]) {
			return true
		}
	}
	return false
}

// pageFooterLike reports whether the tokens contain "pagina 2 di 4" / "page 1 of 3".
func pageFooterLike(toks []string) bool {
	for i := 0; i+3 < len(toks); i++ {
		if slices.Contains(pageWords, toks[i]) && isNumber(toks[i+1]) && (toks[i+2] == "di" || toks[i+2] == "of") && isNumber(toks[i+3]) {
			return true
		}
	}
	return false
}

// instructionScore sums the evidence that the text is exam instructions or a header.
func instructionScore(raw, norm string) int {
	score := 0
	for _, c := range instructionCues {
		if has(norm, c.text) {
			score += c.weight
		}
	}
	toks := strings.Fields(norm)
	if headerLike(norm, toks) {
		score += 2
	}
	if durationLike(toks) {
		score++
	}
	if reLabelledDuration.MatchString(strings.ToLower(raw)) {
		score += 2
	}
	if pageFooterLike(toks) {
		score += 2
	}
	for _, w := range []string{" istruzioni ", " instructions ", " regole ", " rules ", " avvertenze ", " note "} {
		if strings.HasPrefix(norm, w) {
			score += 2
			break
		}
	}
	return score
}

// Continuation signals reported by continuation.
const (
	signalSubPoint  = "sub-point"
	signalContinued = "continued"
	signalLowerCase = "lower-case start"
	signalReference = "reference to the previous exercise"
)

var (
	// reLetterMark is a lettered or roman sub-point at the start: "b)", "(c)", "[d]", "ii)".
	reLetterMark = regexp.MustCompile(`^[\(\[]?([A-Za-z]|ii|iii|iv|vi|vii|viii|ix|II|III|IV|VI|VII|VIII|IX)\s?[\)\]](\s|$)`)
	// reLetterDot is a lower-case lettered or roman sub-point with a dot: "b. ", "iii. ".
	reLetterDot = regexp.MustCompile(`^([a-h]|ii|iii|iv|vi|vii|viii|ix)\.(\s|$)`)
	// reNumberMark is a numbered sub-point at the start: "2.", "3)", "(4)".
	reNumberMark = regexp.MustCompile(`^[\(\[]?(\d{1,2})[\)\]\.](\s|$)`)
	// reNamedMark is "Punto 3", "Parte b", "Part b", "Point ii".
	reNamedMark = regexp.MustCompile(`(?i)^(punto|parte|part|point|step|sottopunto|sub-question|subquestion|item)\s+([a-z]|\d{1,2}|[ivx]{1,4})\b[\s\).:,-]*`)
	// reNewExercise is a heading that opens a new exercise: "Esercizio 3", "Exercise 2".
	reNewExercise = regexp.MustCompile(`(?i)^(esercizio|exercise|domanda|question|problema|problem|quesito|ex\.)\s*\d*`)
	// reContinuedStart is "Continua", "(segue)", "Continued", "..." at the start.
	reContinuedStart = regexp.MustCompile(`(?i)^([\(\[]\s*)?(continua|continued|continuazione|continuation|segue|cont\.)\b|^(\.\.\.|…)`)
	// reContinuedTag is "(continua)", "[continued]", "(segue)" anywhere.
	reContinuedTag = regexp.MustCompile(`(?i)[\(\[]\s*(continua|continued|continuazione|segue|cont\.?|seguito)\s*[\)\]]`)
)

// referenceCues refer to a previous exercise or sub-point (normalized form).
var referenceCues = []string{
	"previous circuit", "previous exercise", "previous question", "previous point", "previous part", "previous item",
	"previous program", "previous code", "previous machine", "previous cache", "previous fsm", "previous function",
	"previous pipeline", "previous processor", "previous result", "previous answer", "previously",
	"same machine", "same circuit", "same cache", "same program", "same code", "same processor", "same pipeline",
	"same fsm", "same function", "same number", "same expression", "same memory", "same sequence", "same address*",
	"above", "as before", "from part a", "of part a", "in part a", "point a", "continued from", "continues from",
	"circuito precedente", "esercizio precedente", "punto precedente", "quesito precedente", "domanda precedente",
	"programma precedente", "codice precedente", "macchina precedente", "rete precedente", "automa precedente",
	"cache precedente", "funzione precedente", "risultato precedente", "processore precedente", "precedentemente",
	"stesso circuito", "stessa rete", "stessa macchina", "stessa cache", "stesso programma", "stesso codice",
	"stesso processore", "stessa pipeline", "stessa funzione", "stesso automa", "stessa fsm", "stesso numero",
	"stessa sequenza", "stessi indirizzi", "stessa memoria", "medesim*", "sopra", "come prima",
	"al punto a", "del punto a", "nel punto a", "continua dall", "seguito dell esercizio", "seguito del",
}

// continuation returns the first signal that text continues the previous item, or "".
// A first sub-point ("a)", "1.", "i)", "Part a") opens an exercise and is not a signal
// by itself; its body starting in lower case is.
func continuation(raw, norm string) string {
	s := strings.TrimLeft(raw, " \t\r\n•-–—*·")
	if reContinuedStart.MatchString(s) || reContinuedTag.MatchString(s) {
		return signalContinued
	}
	body, opener, isSub := subPoint(s)
	if isSub && !opener {
		return signalSubPoint
	}
	// After "Part a:" a lower-case word is ordinary; after "a)" it means the sentence
	// started earlier.
	afterColon := isSub && strings.HasSuffix(strings.TrimSpace(s[:len(s)-len(body)]), ":")
	if !afterColon && !reNewExercise.MatchString(s) {
		if r, _ := utf8.DecodeRuneInString(strings.TrimLeft(body, " \t\r\n\"'«“(")); unicode.IsLower(r) {
			return signalLowerCase
		}
	}
	for _, c := range referenceCues {
		if has(norm, c) {
			return signalReference
		}
	}
	return ""
}

// subPoint recognises a sub-point marker at the start of s. It returns the text after
// the marker, whether the marker is a first sub-point (a, i, 1) and whether there is a
// marker at all.
func subPoint(s string) (body string, opener, ok bool) {
	if m := reNamedMark.FindStringSubmatch(s); m != nil {
		v := strings.ToLower(m[2])
		return s[len(m[0]):], v == "a" || v == "i" || v == "1" || v == "0", true
	}
	if m := reLetterMark.FindStringSubmatch(s); m != nil {
		v := strings.ToLower(m[1])
		return s[len(m[0]):], v == "a" || v == "i", true
	}
	if m := reLetterDot.FindStringSubmatch(s); m != nil {
		return s[len(m[0]):], m[1] == "a" || m[1] == "i", true
	}
	if m := reNumberMark.FindStringSubmatch(s); m != nil {
		return s[len(m[0]):], m[1] == "1" || m[1] == "0" || m[1] == "01", true
	}
	return s, false, false
}

// subPointMarks are the labels counted as sub-points inside a text for difficulty.
var subPointMarks = []string{"a", "b", "c", "d", "e", "f", "g", "h", "ii", "iii", "iv", "v", "vi"}

// countSubPoints counts the sub-point labels inside raw: "a)", "(b)", "[c]", "ii)",
// each at the start of the text or after a space or ";", ":", ".".
func countSubPoints(raw string) int {
	n := 0
	for i := 0; i < len(raw); i++ {
		if raw[i] != ')' && raw[i] != ']' {
			continue
		}
		j := i
		for j > 0 && raw[j-1] >= 'a' && raw[j-1] <= 'z' {
			j--
		}
		if !slices.Contains(subPointMarks, raw[j:i]) {
			continue
		}
		if j > 0 && (raw[j-1] == '(' || raw[j-1] == '[') {
			j--
		}
		if j == 0 || strings.IndexByte(" \t\r\n;:.", raw[j-1]) >= 0 {
			n++
		}
	}
	return n
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

// hardCues are words that make an exercise harder: proofs, design, optimisation.
var hardCues = []string{
	"dimostrar*", "dimostri", "prove", "proof", "progettar*", "si progetti", "progetto", "design*",
	"ottimizz*", "optimi*", "ricorsiv*", "recursive*", "numero minimo", "minimum number", "minimo numero",
}

// difficulty grades a text from its length, its number of requests and sub-points,
// and its hard cues.
func difficulty(raw, norm string) string {
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
	switch n := countSubPoints(raw); {
	case n >= 4:
		points += 2
	case n >= 2:
		points++
	}
	hard := 0
	for _, c := range hardCues {
		if has(norm, c) {
			hard++
		}
	}
	if hard > 0 {
		points += min(hard+1, 4)
	}
	switch {
	case points >= 4:
		return "hard"
	case points >= 2:
		return "medium"
	}
	return "easy"
}
