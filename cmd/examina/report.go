package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/examina-dev/examina-serverless/shared/analysis"
	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/course"
	"github.com/examina-dev/examina-serverless/shared/examina"
	"github.com/examina-dev/examina-serverless/shared/pipeline"
	"github.com/examina-dev/examina-serverless/shared/report"
)

const reportSynopsis = "report [--store DIR] [--format html|md] [--out FILE] (JOB_ID | --input FILE)"

// report writes the course map of a job as one HTML page or as Markdown.
func (m *Main) report(ctx context.Context, args []string) error {
	fs := m.newFlagSet("report", reportSynopsis)
	store := fs.String("store", m.envOr("EXAMINA_STORE", ".examina"), "embedded store directory (env EXAMINA_STORE)")
	format := fs.String("format", "html", "html (one self-contained page) or md (Markdown)")
	out := fs.String("out", "", "file to write, - for stdout (default: beside the result document, <store>/results/<job>.html or .md)")
	input := fs.String("input", "", "a course file (its most recent completed job in the store) or a result document (--out of analyze)")
	courseCode := fs.String("course", "", "course code of a JSONL course file, as given to analyze")
	courseName := fs.String("course-name", "", "course name of a JSONL course file, as given to analyze (default: the code)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if *format != "html" && *format != "md" {
		return usagef("--format must be html or md, not %q", *format)
	}
	var (
		res         examina.Result
		defaultPath string
		err         error
	)
	switch {
	case *input != "" && fs.NArg() > 0:
		return usagef("give a job id or --input FILE, not both")
	case *input != "":
		res, defaultPath, err = m.reportInput(ctx, *input, *store, *courseCode, *courseName)
	case fs.NArg() == 1:
		res, err = storedResult(ctx, *store, fs.Arg(0))
		defaultPath = filepath.Join(*store, "results", res.JobID)
	default:
		return usagef("give one job id (see 'examina jobs') or --input FILE")
	}
	if err != nil {
		return err
	}

	var buf bytes.Buffer
	if *format == "md" {
		err = report.Markdown(&buf, res)
	} else {
		err = report.HTML(&buf, res)
	}
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := m.Stdout.Write(buf.Bytes())
		return err
	}
	path := *out
	if path == "" {
		path = defaultPath + "." + *format
	}
	if err := writeFileAtomic(path, buf.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "wrote %s: %s, %d topics, %d merged exercises, job %s\n", path, res.Course.Code, len(res.Topics), len(res.MergedExercises), res.JobID)
	return nil
}

// storedResult reads the result document of job id from the store at dir.
func storedResult(ctx context.Context, dir, id string) (examina.Result, error) {
	st, err := openExisting(ctx, dir)
	if err != nil {
		return examina.Result{}, err
	}
	defer st.Close()
	return resultOf(ctx, st, dir, id)
}

func resultOf(ctx context.Context, st *bolt.Store, dir, id string) (examina.Result, error) {
	res, err := st.GetOutput(ctx, id)
	if examina.IsNotFound(err) {
		job, jerr := st.GetJob(ctx, id)
		if jerr == nil {
			return examina.Result{}, fmt.Errorf("job %s has no result yet (status %s, %d/%d analysed); run the same analyze command again to finish it", job.ID, job.Status, job.Done, job.Total)
		}
		return examina.Result{}, usagef("no job %q in %s (see 'examina jobs --store %s')", id, dir, dir)
	}
	return res, err
}

// reportInput resolves --input: a result document is rendered as it is (the report
// goes beside it); a course file names the job analysed from it, found in the store.
func (m *Main) reportInput(ctx context.Context, input, store, code, name string) (examina.Result, string, error) {
	data, err := os.ReadFile(input)
	if err != nil {
		return examina.Result{}, "", &inputError{fmt.Errorf("reading %s: %w", input, err)}
	}
	if res, ok, err := asResult(data); ok {
		if err != nil {
			return examina.Result{}, "", &inputError{fmt.Errorf("%s looks like a result document but is not one: %w", input, err)}
		}
		return res, strings.TrimSuffix(input, filepath.Ext(input)), nil
	}
	opts := course.Options{Limits: course.DefaultLimits()}
	opts.Course.Code = code
	opts.Course.Name = name
	if name == "" && code != "" && strings.HasSuffix(strings.ToLower(input), ".jsonl") {
		opts.Course.Name = code
	}
	cf, err := course.Parse(data, input, opts)
	if err != nil {
		return examina.Result{}, "", &inputError{err}
	}
	st, err := openExisting(ctx, store)
	if err != nil {
		return examina.Result{}, "", err
	}
	defer st.Close()
	jobs, err := st.ListJobs(ctx)
	if err != nil {
		return examina.Result{}, "", err
	}
	matches := jobsOfFile(jobs, cf)
	if len(matches) == 0 {
		return examina.Result{}, "", usagef("no job in %s was analysed from %s as it is now (run examina analyze --input %s first, or see 'examina jobs')", store, input, input)
	}
	job := matches[0]
	if job.Status != examina.JobCompleted {
		return examina.Result{}, "", fmt.Errorf("job %s of %s has no result yet (status %s, %d/%d analysed); run the same analyze command again to finish it", job.ID, input, job.Status, job.Done, job.Total)
	}
	if len(matches) > 1 {
		var others []string
		for _, j := range matches[1:] {
			others = append(others, fmt.Sprintf("%s (%s %s, %s)", j.ID, j.Provider, j.Model, j.Status))
		}
		fmt.Fprintf(m.Stderr, "examina: %s has %d jobs; reporting the most recent completed one, %s (%s %s); the others: %s\n",
			input, len(matches), job.ID, job.Provider, job.Model, strings.Join(others, ", "))
	}
	res, err := resultOf(ctx, st, store, job.ID)
	return res, filepath.Join(store, "results", job.ID), err
}

// asResult reports whether data is a result document (a JSON object with a job id and
// exercises) and decodes it.
func asResult(data []byte) (examina.Result, bool, error) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) != nil {
		return examina.Result{}, false, nil
	}
	_, hasJob := probe["job_id"]
	_, hasExercises := probe["exercises"]
	_, hasMerged := probe["merged_exercises"]
	if !hasJob || !hasExercises || !hasMerged {
		return examina.Result{}, false, nil
	}
	var res examina.Result
	err := json.Unmarshal(data, &res)
	return res, true, err
}

// jobsOfFile returns the stored jobs whose id derives from cf (any provider, model and
// output language), completed ones first, then the most recently updated.
func jobsOfFile(jobs []examina.Job, cf examina.CourseFile) []examina.Job {
	var out []examina.Job
	for _, j := range jobs {
		if !strings.EqualFold(j.Course.Code, cf.Course.Code) {
			continue
		}
		for _, lang := range []string{analysis.LangEnglish, analysis.LangItalian} {
			if pipeline.JobID(cf, j.PromptVersion, j.Provider, j.Model, lang) == j.ID {
				out = append(out, j)
				break
			}
		}
	}
	slices.SortStableFunc(out, func(a, b examina.Job) int {
		ac, bc := a.Status == examina.JobCompleted, b.Status == examina.JobCompleted
		if ac != bc {
			if ac {
				return -1
			}
			return 1
		}
		return b.UpdatedAt.Compare(a.UpdatedAt)
	})
	return out
}

// writeFileAtomic writes data to path through a temporary file and a rename, so a
// crash never leaves half a file.
func writeFileAtomic(path string, data []byte) error {
	dir := cmp.Or(filepath.Dir(path), ".")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".examina-report-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
