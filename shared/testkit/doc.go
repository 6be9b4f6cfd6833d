// Package testkit names the part of shared/ that only serves tests: nothing under it
// is linked into a Lambda bootstrap (`go list -deps ./functions/...` shows it).
//
//   - mototest: a patched moto_server started by a test, and the resources a test
//     provisions on it (the cloud unit and integration tiers; the cloud benchmark
//     scenarios of `examina bench` use it too).
//   - storetest: the one conformance suite every examina.Store implementation runs.
//   - template: template.yaml's rules (least privilege, build method, limits) checked
//     as tests, and the template parser they use.
//   - fakeopenai: an OpenAI-compatible server speaking the wire format, with scripted
//     faults (rate limits, outages, llama-server behaviours); cmd/fakeopenai runs it.
//
// The product is every other package of shared/ but stack, which is the local
// deployment tooling (scripts/stack): the emulator launcher, the RIE pool, the event
// source poller and the API front.
package testkit
