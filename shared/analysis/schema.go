package analysis

// schemaJSON is the JSON schema of the model's answer. It uses only the subset of JSON
// Schema draft 2020-12 that OpenAI's strict structured outputs accept (type, properties,
// required listing every property, additionalProperties false, enum, items,
// description); ranges are stated in descriptions because strict mode may reject
// minimum/maximum. No "$schema" keyword: some providers refuse unknown top-level keys.
const schemaJSON = `{
  "type": "object",
  "properties": {
    "is_valid_exercise": {
      "type": "boolean",
      "description": "true when the item asks the student to solve something; false for exam instructions, headers, rules, blank text"
    },
    "is_fragment": {
      "type": "boolean",
      "description": "true when the item continues the previous exercise and is not self-contained"
    },
    "should_merge_with_previous": {
      "type": "boolean",
      "description": "true when the item must be glued to the previous exercise to be understood"
    },
    "topic": {
      "type": "string",
      "description": "subject area in a few words; empty only for an invalid exercise"
    },
    "core_loop_name": {
      "type": "string",
      "description": "generic name of the solving procedure; empty only for an invalid exercise"
    },
    "procedure": {
      "type": "array",
      "items": {"type": "string"},
      "description": "3 to 7 generic steps of the procedure, in order"
    },
    "difficulty": {
      "type": "string",
      "enum": ["easy", "medium", "hard"]
    },
    "variations": {
      "type": "array",
      "items": {"type": "string"},
      "description": "ways the same procedure appears in other exercises"
    },
    "confidence": {
      "type": "number",
      "description": "honest certainty about this analysis, from 0 to 1"
    }
  },
  "required": [
    "is_valid_exercise",
    "is_fragment",
    "should_merge_with_previous",
    "topic",
    "core_loop_name",
    "procedure",
    "difficulty",
    "variations",
    "confidence"
  ],
  "additionalProperties": false
}`

// Schema returns the JSON schema of the model's answer: an object with the required
// properties is_valid_exercise, is_fragment, should_merge_with_previous (booleans),
// topic, core_loop_name (strings), procedure, variations (arrays of strings), difficulty
// (enum easy|medium|hard) and confidence (number, 0 to 1), and no other property. It is
// usable as an OpenAI strict-mode response format, an Anthropic tool input schema and an
// Ollama format. Each call returns a fresh copy the caller may modify.
func Schema() []byte {
	return []byte(schemaJSON)
}
