// Package reliability holds the project's cross-cutting reliability and security tests:
// provider faults at scale on the local path (nothing lost, nothing counted twice,
// degraded only where retries ran out, resumable), fuzz targets for outside input whose
// parsers live elsewhere, secret-leak scans of every log line and output file, prompt
// injection, and faults of the cloud path (redelivery, duplicates, throttling,
// partial batch failures, deadlines) injected against moto.
//
// The package has no production code: everything is in its _test.go files, named for
// the promise each one proves. docs/RELIABILITY.md lists every promise with its test.
package reliability
