package offline

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

func TestDump(t *testing.T) {
	path := os.Getenv("DUMP")
	if path == "" {
		t.Skip()
	}
	b, _ := os.ReadFile(path)
	var cf examina.CourseFile
	json.Unmarshal(b, &cf)
	m := Learn(cf.Course.Language, cf.Exercises)
	for i, e := range cf.Exercises {
		r := m.results[i]
		fl := "  "
		if !r.IsValidExercise {
			fl = "XX"
		} else if r.ShouldMergeWithPrevious {
			fl = "++"
		}
		txt := []rune(e.Text)
		if len(txt) > 60 {
			txt = txt[:60]
		}
		fmt.Printf("%s %-16s %.2f %-30s | %-40s | %s\n", fl, e.ID, r.Confidence, r.Topic, r.CoreLoopName, string(txt))
	}
}
