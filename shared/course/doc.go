// Package course reads and validates course files: a JSON document holding the course
// and its exercises, or a JSONL file with one exercise object per line whose course is
// given by the caller.
//
// Validation reports every problem it finds, each with its location (a path such as
// "exercises[3].text", and the line and column when known) and how to fix it, as a
// *ProblemsError whose kind is examina.KindInvalid. Nothing is stored here: callers
// store a course file only after Parse, Decode or ReadFile returned a nil error.
package course
