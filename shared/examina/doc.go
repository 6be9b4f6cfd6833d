// Package examina holds the domain of Examina Serverless: courses and exercises, the
// per-exercise analysis and its run metadata, jobs, the merged result document, error
// kinds, and the interfaces (Provider, Store) that adapters implement.
//
// It imports only the standard library; every other package of the product depends on
// it and it depends on none of them.
package examina
