// Command examina analyses the exercises of a course's past exams with an LLM provider
// and merges the analyses into a map of topics and core loops. It runs the whole
// pipeline in one process on an embedded store; see `examina --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	m := NewMain()
	code := m.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
