package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// templates are exam exercises of a computer architecture course, in the shape real
// course files have: headers and instructions, numbered exercises, sub-points that
// continue the previous exercise. %d verbs are filled with varying numbers.
var templates = []struct {
	number string
	text   string
}{
	{"", "Esame di Architettura degli Elaboratori - appello %d"},
	{"", "Istruzioni: scrivere nome, cognome e matricola su ogni foglio. Tempo a disposizione: %d minuti."},
	{"1", "Esercizio 1 (%d punti). Si minimizzi la funzione booleana f(a,b,c,d) = Σm(0,2,5,7,8,10,13,%d) con la mappa di Karnaugh e se ne scriva la forma minima come somma di prodotti."},
	{"1b", "b) Si realizzi la funzione ottenuta al punto precedente con sole porte NAND a due ingressi e se ne calcoli il ritardo, assumendo %d ns per porta."},
	{"2", "Esercizio 2 (%d punti). Si progetti una macchina a stati finiti di Mealy che riconosca la sequenza 1101 sull'ingresso x; si disegni il diagramma degli stati e si ricavi la tabella delle transizioni con %d flip-flop D."},
	{"3", "Esercizio 3 (%d punti). Una cache a mappatura diretta da %d KB con blocchi da 32 byte riceve la sequenza di indirizzi 0x1A40, 0x1A44, 0x2B40, 0x1A48: si indichino hit e miss e il tasso di hit finale."},
	{"4", "Esercizio 4 (%d punti). Si consideri una pipeline MIPS a 5 stadi senza forwarding: individuare gli hazard sui dati nella sequenza di %d istruzioni e calcolare i cicli di stallo necessari."},
	{"4b", "b) Ripetere il calcolo del punto precedente supponendo disponibile il forwarding e un predittore di salto statico (penalità %d cicli)."},
	{"5", "Esercizio 5 (%d punti). Si scriva in assembly MIPS una procedura ricorsiva che calcoli il fattoriale di n, rispettando le convenzioni sull'uso dello stack (n <= %d)."},
	{"6", "Esercizio 6 (%d punti). Convertire il numero -%d.625 in virgola mobile IEEE 754 a singola precisione e indicarne la rappresentazione esadecimale."},
	{"7", "Esercizio 7 (%d punti). Un sistema con memoria virtuale paginata ha pagine da 4 KB e una TLB di %d elementi: calcolare il tempo medio di accesso in memoria."},
}

// Course returns a realistic course of n exercises (headers, instructions, exercises
// and sub-points in exam order), the same for the same n and seed. Ids are the ones the
// course parser would assign.
func Course(n int, seed uint64) examina.CourseFile {
	rng := rand.New(rand.NewPCG(seed, 0xc0_75e))
	cf := examina.CourseFile{Course: examina.Course{Code: "ADE", Name: "Architettura degli Elaboratori", Language: "it"}}
	cf.Exercises = make([]examina.Exercise, n)
	for i := range cf.Exercises {
		t := templates[i%len(templates)]
		exam := i / len(templates)
		args := []any{4 + rng.IntN(8), 2 + rng.IntN(30)}
		text := fmt.Sprintf(t.text, args[:strings.Count(t.text, "%d")]...)
		// Exams differ in their numbers; the exam index keeps every text distinct so
		// no run is served from the response cache.
		text = fmt.Sprintf("%s [appello %d]", text, exam+1)
		cf.Exercises[i] = examina.Exercise{
			Number: t.number, Text: text, Page: 1 + (i%len(templates))/4,
			Source: fmt.Sprintf("ADE-appello-%03d.pdf", exam+1), Position: i,
		}
		cf.Exercises[i].ID = course.ExerciseID(cf.Course, i, text)
	}
	return cf
}
