package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/llm/offline"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/retry"
	"github.com/examina-dev/examina-serverless/shared/score"
)

// scoreTargets are the targets on held-out courses.
var scoreTargets = []struct {
	name string
	ok   func(score.Report) bool
	goal string
}{
	{"invalid F1", func(r score.Report) bool { return r.InvalidF1 >= 0.9 }, ">= 0.9"},
	{"merge F1", func(r score.Report) bool { return r.MergeF1 >= 0.85 }, ">= 0.85"},
	{"topic ARI", func(r score.Report) bool { return r.TopicARI >= 0.6 }, ">= 0.6"},
	{"core-loop ARI", func(r score.Report) bool { return r.CoreLoopARI >= 0.4 }, ">= 0.4"},
	{"coverage", func(r score.Report) bool { return r.Coverage >= 0.8 }, ">= 0.8"},
	{"topic count", func(r score.Report) bool { return r.Topics >= r.RefTopics-2 && r.Topics <= r.RefTopics+2 }, "reference ±2"},
}

func (m *Main) score(ctx context.Context, args []string) error {
	fs := m.newFlagSet("score", "score --labels FILE --result FILE | --courses DIR [--json FILE]")
	var labels, result, dir, jsonPath string
	var minConf float64
	fs.StringVar(&labels, "labels", "", "labels file of a course (see testdata/courses/README.md)")
	fs.StringVar(&result, "result", "", "result document of that course (examina analyze --out)")
	fs.StringVar(&dir, "courses", "", "analyse every COURSE.json of DIR that has a COURSE.labels.json with the offline analyzer, and score each")
	fs.Float64Var(&minConf, "min-confidence", 0, "confidence threshold of coverage (default: the result's, else 0.5)")
	fs.StringVar(&jsonPath, "json", "", "also write the reports as JSON to FILE (- for stdout)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("score takes no arguments (see 'examina score --help')")
	}
	var reports []score.Report
	switch {
	case dir != "" && (labels != "" || result != ""):
		return usagef("give either --courses DIR or --labels and --result, not both")
	case dir != "":
		rs, err := scoreCourses(ctx, dir, minConf)
		if err != nil {
			return err
		}
		reports = rs
	case labels == "" || result == "":
		return usagef("score needs --labels FILE and --result FILE, or --courses DIR")
	default:
		l, err := score.ReadLabels(labels)
		if err != nil {
			return &inputError{err}
		}
		b, err := os.ReadFile(result)
		if err != nil {
			return &inputError{err}
		}
		var res examina.Result
		if err := json.Unmarshal(b, &res); err != nil {
			return &inputError{fmt.Errorf("%s: not a result document: %w", result, err)}
		}
		r, err := score.Score(l, res, minConf)
		if err != nil {
			return &inputError{fmt.Errorf("%s against %s: %w", result, labels, err)}
		}
		reports = []score.Report{r}
	}
	printScores(m.Stdout, reports)
	if jsonPath != "" {
		if jsonPath == "-" {
			return writeJSON(m.Stdout, reports)
		}
		return writeJSONFile(jsonPath, reports)
	}
	return nil
}

// scoreCourses runs the offline analyzer through the local pipeline (a temporary
// store) on every labelled course of dir, in name order, and scores each.
func scoreCourses(ctx context.Context, dir string, minConf float64) ([]score.Report, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.labels.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, usagef("no *.labels.json in %s", dir)
	}
	sort.Strings(paths)
	tmp, err := os.MkdirTemp("", "examina-score-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	st, err := bolt.Open(ctx, filepath.Join(tmp, "store"), bolt.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var out []score.Report
	for _, lp := range paths {
		l, err := score.ReadLabels(lp)
		if err != nil {
			return nil, &inputError{err}
		}
		cp := strings.TrimSuffix(lp, ".labels.json") + ".json"
		cf, err := course.ReadFile(cp, course.Options{})
		if err != nil {
			return nil, &inputError{err}
		}
		r := &pipeline.Runner{
			Store:         st,
			Analyzer:      &pipeline.Analyzer{Provider: offline.New(), Policy: retry.DefaultPolicy()},
			Force:         true,
			MinConfidence: minConf,
		}
		res, err := r.Run(ctx, cf)
		if err != nil {
			return nil, fmt.Errorf("analysing %s: %w", cp, err)
		}
		rep, err := score.Score(l, res, minConf)
		if err != nil {
			return nil, &inputError{fmt.Errorf("%s: %w", lp, err)}
		}
		out = append(out, rep)
	}
	return out, nil
}

// printScores writes one row per course, held-out courses apart, and for the held-out
// ones which targets are missed.
func printScores(w io.Writer, rs []score.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COURSE\tSPLIT\tITEMS\tINVALID F1\tMERGE F1\tGROUPS EXACT\tTOPIC ARI\tCORE-LOOP ARI\tTOPICS (REF)\tCOVERAGE")
	for _, split := range []string{"train", "heldout", ""} {
		for _, r := range rs {
			if r.Split != split && (split != "" || r.Split == "train" || r.Split == "heldout") {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d (%d)\t%.3f\n", r.Course, r.Split, r.Items, r.InvalidF1, r.MergeF1,
				r.GroupsExact, r.TopicARI, r.CoreLoopARI, r.Topics, r.RefTopics, r.Coverage)
		}
	}
	tw.Flush()
	for _, r := range rs {
		if r.Split != "heldout" {
			continue
		}
		var missed []string
		for _, t := range scoreTargets {
			if !t.ok(r) {
				missed = append(missed, fmt.Sprintf("%s (target %s)", t.name, t.goal))
			}
		}
		if len(missed) == 0 {
			fmt.Fprintf(w, "held-out %s: every target met\n", r.Course)
		} else {
			fmt.Fprintf(w, "held-out %s: MISSED %s\n", r.Course, strings.Join(missed, ", "))
		}
	}
}
