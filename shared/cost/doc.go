// Package cost says what a run costs before, during and after it: the price table of
// providers and models (an embedded data file, overridable with a file of the same
// format), the token estimate of a request (an expected figure for forecasts and a
// worst case for the spending cap), the Ledger that meters every provider call of a
// run, retries and failed attempts included, and refuses a call that could take the
// spend over a cap, and the time a run needs under its batch size and rate limits.
//
// It depends only on the domain package.
package cost
