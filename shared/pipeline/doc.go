// Package pipeline runs the analysis of a course over the domain interfaces: the
// Analyzer (one exercise, with retries, repair and the degraded fallback), the local
// Runner (a sliding window of workers bounded by the batch size, resumable through the
// Store) and Assemble (the ordered merge into the result document). The Lambdas and the
// CLI use the same code, so both modes produce the same results.
package pipeline
