package offline

import (
	"strings"
	"unicode"
)

// This file turns text into the words the analyzer counts: normalized (lower case, no
// accents), split on everything that is not a letter or a digit, with the stop words
// of Italian and English set apart and a light stemmer for each. A text in another
// language keeps its words unstemmed and has no stop words: its phrases are still
// found, only less cleanly.

// normalize lowers s, strips the accents of Latin letters and turns every run of
// characters that are not letters or digits into one space. The result starts and ends
// with a space so that phrases can be matched on word boundaries.
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

// words returns the normalized words of s.
func words(s string) []string { return strings.Fields(normalize(s)) }

// has reports whether the normalized text norm contains the phrase p (normalized, no
// surrounding spaces) as whole words.
func has(norm, p string) bool {
	return p != "" && strings.Contains(norm, " "+p+" ")
}

// Languages the analyzer knows; any other text is "".
const (
	langIT = "it"
	langEN = "en"
)

// set builds a lookup set from space-separated words.
func set(ws string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(ws) {
		m[w] = true
	}
	return m
}

// stopIT and stopEN are function words plus the words every exam text uses (exercise,
// points, following, consider...), which say nothing about the subject.
var (
	stopIT = set(`a ad al allo alla ai agli alle all anche ancora che chi ci cio come con col coi contro cui da dal dallo dalla dai dagli dalle dall
	dei degli delle del dello della dell di dopo dove e ed era essere fra gli ha hanno ho i il in infine inoltre io la le lei lo loro lui ma mentre ne nei negli
	nel nello nella nell nelle no noi non o od ogni per perche piu poi prima quale quali quando quanto quanti quante quanta quello quella quelli quelle questo
	questa questi queste se sei senza si sia siano sono stato su sui sugli sul sullo sulla sull sulle tra tutti tutte tutto tale tali tre due uno una un uno
	quattro cinque sei sette otto nove dieci viene vengono deve devono puo possono essere dato data dati date seguente seguenti seguito consideri considerino
	considerare sia siano esercizio esercizi punto punti domanda quesito problema parte risposta risposte motivare motivando motivi giustificare giustificando
	breve brevemente ciascun ciascuno ciascuna caso casi modo valore valori esempio rispettivamente almeno ovvero oppure cosi quindi allora dunque nonche
	supponga supponendo supporre assuma assumendo assumere indichi indicando indicare riporti riportando tabella tabelle figura seguito sotto sopra
	precedente precedenti stesso stessa stessi stesse medesimo medesima qui qua lei suo sua suoi sue loro nostro vostro esso essa essi esse ciò cioè
	ossia via volta volte prova dove quale uso usando utilizzando mediante attraverso secondo rispetto relativo relativa relativi relative`)
	stopEN = set(`a about above after again all also an and any are as at be been being below both but by can could did do does doing down during each
	for from further had has have having he her here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or
	other our out over own same she should so some such than that the their them then there these they this those through to too under until up very was we
	were what when where which while who whom why will with would you your yours one two three four five six seven eight nine ten given following exercise
	exercises question questions problem part points point answer answers briefly justify justifying example examples case cases way value values use using
	used each every consider considering assume assuming suppose supposing let show shown table tables figure below previous same respectively least either
	neither must may might shall whose thus hence therefore whether why whose also well note within without between among per via respect respectively`)
)

// isStop reports whether the normalized word w is a stop word of lang (both languages'
// when lang is "").
func isStop(lang, w string) bool {
	switch lang {
	case langIT:
		return stopIT[w]
	case langEN:
		return stopEN[w]
	}
	return false
}

// detectLanguage tells Italian from English by their stop words; fallback (the
// course's language when known) decides a tie, and a text with no stop word of either
// gives "" (unknown).
func detectLanguage(ws []string, fallback string) string {
	it, en := 0, 0
	for _, w := range ws {
		if stopIT[w] && !stopEN[w] {
			it++
		}
		if stopEN[w] && !stopIT[w] {
			en++
		}
	}
	switch {
	case it == 0 && en == 0:
		return fallback
	case it > en:
		return langIT
	case en > it:
		return langEN
	}
	return fallback
}

// stem is a light stemmer: it strips the inflection endings of lang (plurals, gender,
// the most common verb and noun suffixes) and leaves words of other languages, short
// words and numbers as they are. Light by design: "processo", "processi" → "process";
// "pages", "page" → "page"; it never merges words of different meaning that a reader
// would tell apart.
func stem(lang, w string) string {
	if len(w) < 4 || !isLetters(w) {
		return w
	}
	switch lang {
	case langIT:
		return stemIT(w)
	case langEN:
		return stemEN(w)
	}
	return w
}

func isLetters(w string) bool {
	for _, r := range w {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// stemIT strips Italian inflections: the final vowel of nouns and adjectives ("-o",
// "-a", "-i", "-e" and "-he"/"-hi" after c/g), and "-zione"/"-zioni" to "-zion".
func stemIT(w string) string {
	for _, suf := range []string{"zione", "zioni", "sione", "sioni"} {
		if strings.HasSuffix(w, suf) && len(w) > len(suf)+2 {
			return w[:len(w)-2]
		}
	}
	for _, suf := range []string{"che", "chi", "ghe", "ghi"} {
		if strings.HasSuffix(w, suf) && len(w) > 5 {
			return w[:len(w)-2]
		}
	}
	switch w[len(w)-1] {
	case 'a', 'e', 'i', 'o':
		if len(w) > 4 {
			return w[:len(w)-1]
		}
	}
	return w
}

// stemEN strips English plurals and the "-ing"/"-ed" of verbs used as nouns.
func stemEN(w string) string {
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 5:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes") || strings.HasSuffix(w, "xes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ss") || strings.HasSuffix(w, "us") || strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "s") && len(w) > 4:
		return w[:len(w)-1]
	}
	return w
}
