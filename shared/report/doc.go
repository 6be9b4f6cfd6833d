// Package report renders a result document (examina.Result, DESIGN §9) as a page people
// read: one self-contained HTML file (inline style and script, a Content-Security-Policy
// that forbids every request, printable, readable on a phone, accessible) or the same
// content as Markdown.
//
// Both renderers draw on one view, built by [Build]: the course, the provider and model
// (saying plainly when the analysis was the offline heuristic), the run's figures; the
// topics ranked by how many exercises the exams asked about them, each with its core
// loops (procedure, variations, exercises); a topics × exam-sessions heat map (a session
// is an exercise's source, i.e. the exam file it came from); and, listed apart, the
// exercises that feed no topic: degraded, low-confidence, unclassified and dropped ones,
// each with its reason.
//
// The package reads nothing and writes only to the io.Writer it is given; it is used by
// `examina report` and by the merge Lambda, which stores the HTML beside the JSON.
package report
