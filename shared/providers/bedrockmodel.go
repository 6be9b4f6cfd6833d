package providers

import "strings"

// bedrockBaseModel is the default Bedrock model: Claude Haiku 4.5, invoked through an
// inference profile (Bedrock offers this model on demand only through one).
const bedrockBaseModel = "anthropic.claude-haiku-4-5-20251001-v1:0"

// BedrockDefaultModel returns the default model for a deployment in region: the
// geographic inference profile the region may use (us. from us-* and ca-*, eu. from
// eu-*, jp. from Tokyo and Osaka, au. from Sydney and Melbourne), else the global.
// profile, which every source region of the model may use. An eu. profile cannot be
// called from us-east-1 (ValidationException), hence no single fixed default.
func BedrockDefaultModel(region string) string {
	switch {
	case strings.HasPrefix(region, "us-gov-"):
		return "global." + bedrockBaseModel
	case strings.HasPrefix(region, "us-"), strings.HasPrefix(region, "ca-"):
		return "us." + bedrockBaseModel
	case strings.HasPrefix(region, "eu-"):
		return "eu." + bedrockBaseModel
	case region == "ap-northeast-1", region == "ap-northeast-3":
		return "jp." + bedrockBaseModel
	case region == "ap-southeast-2", region == "ap-southeast-4":
		return "au." + bedrockBaseModel
	}
	return "global." + bedrockBaseModel
}

// bedrockProfilePrefixes are the inference profile prefixes of model ids.
var bedrockProfilePrefixes = []string{"global.", "us-gov.", "us.", "eu.", "apac.", "jp.", "au.", "ca."}

// BedrockFoundationModel returns the foundation model id of a model or inference
// profile id ("eu.anthropic.x" → "anthropic.x"), and whether model is a profile.
func BedrockFoundationModel(model string) (string, bool) {
	for _, p := range bedrockProfilePrefixes {
		if base, ok := strings.CutPrefix(model, p); ok {
			return base, true
		}
	}
	return model, false
}

// bedrockStructuredFamilies are the model families for which Converse accepts
// outputConfig.textFormat with a JSON schema (structured output). Any other model gets
// the prompt's JSON instructions only, which the analysis parser checks and repairs:
// sending the schema to a model without support fails every call (ValidationException).
var bedrockStructuredFamilies = []string{
	"anthropic.claude-haiku-4-5", "anthropic.claude-sonnet-4-5", "anthropic.claude-opus-4-5", "anthropic.claude-opus-4-1",
}

// BedrockStructured reports whether model (an id or an inference profile id) supports
// Converse structured output.
func BedrockStructured(model string) bool {
	base, _ := BedrockFoundationModel(model)
	for _, f := range bedrockStructuredFamilies {
		if strings.HasPrefix(base, f) {
			return true
		}
	}
	return false
}
