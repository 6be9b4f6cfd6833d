// Package statemachine holds the analysis job's Step Functions definition,
// analysis.asl.json, which template.yaml deploys with DefinitionSubstitutions
// (Partition, DispatchFunctionArn, MergeFunctionArn, TableName, FanOutTimeoutSeconds,
// CheckIntervalSeconds, MaxChecksWithoutProgress). Its tests run the real file in moto's Step Functions.
package statemachine

import (
	_ "embed"
	"slices"
)

//go:embed analysis.asl.json
var definition []byte

// Definition returns a copy of analysis.asl.json, substitutions not yet filled.
func Definition() []byte { return slices.Clone(definition) }

// Substitutions lists the DefinitionSubstitutions the definition uses.
func Substitutions() []string {
	return []string{"Partition", "DispatchFunctionArn", "MergeFunctionArn", "TableName", "FanOutTimeoutSeconds", "CheckIntervalSeconds", "MaxChecksWithoutProgress"}
}
