package course_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

// BenchmarkParse5000 parses a JSON course file of 5,000 exercises of about 1 KB each.
func BenchmarkParse5000(b *testing.B) {
	type exercise struct {
		Number string `json:"number"`
		Text   string `json:"text"`
		Page   int    `json:"page"`
	}
	file := struct {
		Course    examina.Course `json:"course"`
		Exercises []exercise     `json:"exercises"`
	}{Course: examina.Course{Code: "ADE", Name: "Architettura degli elaboratori", Language: "it"}}
	para := "Si progetti una rete sequenziale sincrona che riconosca la sequenza 0110; si disegni il diagramma degli stati, la tabella delle transizioni e la mappa di Karnaugh. "
	for i := range 5000 {
		text := fmt.Sprintf("Esercizio %d.\n%s", i+1, strings.Repeat(para, 1024/len(para)+1))
		file.Exercises = append(file.Exercises, exercise{Number: fmt.Sprint(i + 1), Text: text[:1024], Page: i / 10})
	}
	data, err := json.Marshal(file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		cf, err := course.Parse(data, "bench.json", course.Options{})
		if err != nil || len(cf.Exercises) != 5000 {
			b.Fatalf("%d exercises, %v", len(cf.Exercises), err)
		}
	}
}
