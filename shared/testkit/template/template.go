// Package template reads CloudFormation/SAM templates written in YAML into plain
// Go values, turning the short-form intrinsic tags (!Ref, !Sub, !GetAtt, !If, …)
// into their long form ({"Ref": …}, {"Fn::Sub": …}, …) as CloudFormation does.
// Its tests check the repository's template.yaml against the project's rules.
package template

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Parse reads a YAML template into maps (map[string]any), slices ([]any) and
// scalars (string, bool, numbers, nil). Short-form tags become one-key maps:
// !Ref x → {"Ref": x}, !Condition x → {"Condition": x}, !GetAtt "A.B" →
// {"Fn::GetAtt": ["A", "B"]}, and any other !Name v → {"Fn::Name": v}.
// It returns an error for malformed YAML, unknown tag forms, anchors or aliases.
func Parse(data []byte) (map[string]any, error) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if len(file.Docs) != 1 || file.Docs[0].Body == nil {
		return nil, errors.New("template: want exactly one YAML document")
	}
	v, err := convert(file.Docs[0].Body)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("template: the document is not a mapping")
	}
	return m, nil
}

func convert(n ast.Node) (any, error) {
	switch n := n.(type) {
	case *ast.MappingNode:
		out := make(map[string]any, len(n.Values))
		for _, kv := range n.Values {
			if err := addPair(out, kv); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *ast.MappingValueNode:
		out := map[string]any{}
		if err := addPair(out, n); err != nil {
			return nil, err
		}
		return out, nil
	case *ast.SequenceNode:
		out := make([]any, 0, len(n.Values))
		for _, item := range n.Values {
			v, err := convert(item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *ast.TagNode:
		return convertTag(n)
	case *ast.AnchorNode, *ast.AliasNode:
		return nil, fmt.Errorf("template: line %d: anchors and aliases are not supported", n.GetToken().Position.Line)
	case *ast.LiteralNode: // | and > block scalars
		if n.Value == nil {
			return "", nil
		}
		return n.Value.Value, nil
	case *ast.NullNode:
		return nil, nil
	case ast.ScalarNode:
		return n.GetValue(), nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("template: line %d: unsupported YAML node %s", n.GetToken().Position.Line, n.Type())
}

func addPair(out map[string]any, kv *ast.MappingValueNode) error {
	key, ok := kv.Key.(ast.ScalarNode)
	if !ok {
		return fmt.Errorf("template: line %d: mapping key is not a scalar", kv.GetToken().Position.Line)
	}
	k := fmt.Sprint(key.GetValue())
	if _, dup := out[k]; dup {
		return fmt.Errorf("template: line %d: duplicate key %q", kv.GetToken().Position.Line, k)
	}
	v, err := convert(kv.Value)
	if err != nil {
		return err
	}
	out[k] = v
	return nil
}

func convertTag(n *ast.TagNode) (any, error) {
	tag := n.Start.Value
	v, err := convert(n.Value)
	if err != nil {
		return nil, err
	}
	switch tag {
	case "!Ref":
		return map[string]any{"Ref": v}, nil
	case "!Condition":
		return map[string]any{"Condition": v}, nil
	case "!GetAtt":
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("template: line %d: !GetAtt %q needs Resource.Attribute", n.GetToken().Position.Line, s)
			}
			return map[string]any{"Fn::GetAtt": []any{res, attr}}, nil
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	}
	name, ok := strings.CutPrefix(tag, "!")
	if !ok || name == "" || strings.ContainsAny(name, "!<>") {
		return nil, fmt.Errorf("template: line %d: unsupported tag %q", n.GetToken().Position.Line, tag)
	}
	return map[string]any{"Fn::" + name: v}, nil
}
