package main

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/examina-dev/examina-serverless/shared/bolt"
	"github.com/examina-dev/examina-serverless/shared/examina"
)

func (m *Main) results(ctx context.Context, args []string) error {
	fs := m.newFlagSet("results", "results [--store DIR] [--format json|table] [--out FILE] JOB_ID")
	store := fs.String("store", m.envOr("EXAMINA_STORE", ".examina"), "embedded store directory (env EXAMINA_STORE)")
	format := fs.String("format", "json", "json (the result document) or table (the summary)")
	out := fs.String("out", "", "also write the result document to this file")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give exactly one job id (see 'examina jobs')")
	}
	if *format != "json" && *format != "table" {
		return usagef("--format must be json or table, not %q", *format)
	}
	st, err := openExisting(ctx, *store)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.GetOutput(ctx, fs.Arg(0))
	if examina.IsNotFound(err) {
		job, jerr := st.GetJob(ctx, fs.Arg(0))
		if jerr == nil {
			return fmt.Errorf("job %s has no result yet (status %s, %d/%d analysed); run the same analyze command again to finish it", job.ID, job.Status, job.Done, job.Total)
		}
		return usagef("no job %q in %s (see 'examina jobs --store %s')", fs.Arg(0), *store, *store)
	}
	if err != nil {
		return err
	}
	if *out != "" {
		if err := writeJSONFile(*out, res); err != nil {
			return err
		}
	}
	if *format == "table" {
		printSummary(m.Stdout, res, summaryInfo{out: *out})
		return nil
	}
	return writeJSON(m.Stdout, res)
}

// openExisting opens the store at dir, which must exist: reading commands never create
// an empty store by accident.
func openExisting(ctx context.Context, dir string) (*bolt.Store, error) {
	if _, err := os.Stat(filepath.Join(dir, bolt.FileName)); err != nil {
		return nil, usagef("no store at %s (run examina analyze first, or pass --store)", dir)
	}
	return bolt.Open(ctx, dir, bolt.Options{})
}

func (m *Main) jobs(ctx context.Context, args []string) error {
	fs := m.newFlagSet("jobs", "jobs [--store DIR] [--format table|json]")
	store := fs.String("store", m.envOr("EXAMINA_STORE", ".examina"), "embedded store directory (env EXAMINA_STORE)")
	format := fs.String("format", "table", "table or json")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("jobs takes no arguments")
	}
	if _, err := os.Stat(filepath.Join(*store, bolt.FileName)); errors.Is(err, iofs.ErrNotExist) {
		fmt.Fprintf(m.Stdout, "no jobs: there is no store at %s yet (examina analyze creates it)\n", *store)
		return nil
	}
	st, err := openExisting(ctx, *store)
	if err != nil {
		return err
	}
	defer st.Close()
	jobs, err := st.ListJobs(ctx)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeJSON(m.Stdout, jobs)
	}
	if len(jobs) == 0 {
		fmt.Fprintf(m.Stdout, "no jobs in %s\n", *store)
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCOURSE\tPROVIDER\tMODEL\tSTATUS\tDONE\tDEGRADED\tUPDATED")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%d\t%s\n", j.ID, j.Course.Code, j.Provider, j.Model, j.Status, j.Done, j.Total, j.Degraded, j.UpdatedAt.Local().Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
}
