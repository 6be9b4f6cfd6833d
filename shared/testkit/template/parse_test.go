package template_test

import (
	"encoding/json"
	"testing"

	"github.com/examina-dev/examina-serverless/shared/testkit/template"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"plain", "A: 1\nB: [x, true]\n", `{"A":1,"B":["x",true]}`, false},
		{"ref", "A: !Ref Table\n", `{"A":{"Ref":"Table"}}`, false},
		{"getatt dotted", "A: !GetAtt Q.Arn\n", `{"A":{"Fn::GetAtt":["Q","Arn"]}}`, false},
		{"getatt list", "A: !GetAtt [Q, Arn]\n", `{"A":{"Fn::GetAtt":["Q","Arn"]}}`, false},
		{"sub", "A: !Sub \"${AWS::StackName}-x\"\n", `{"A":{"Fn::Sub":"${AWS::StackName}-x"}}`, false},
		{"nested if", "A: !If [C, !Ref B, !Ref AWS::NoValue]\n", `{"A":{"Fn::If":["C",{"Ref":"B"},{"Ref":"AWS::NoValue"}]}}`, false},
		{"condition and block sequence", "A: !And\n  - !Condition X\n  - !Not [!Equals [a, b]]\n",
			`{"A":{"Fn::And":[{"Condition":"X"},{"Fn::Not":[{"Fn::Equals":["a","b"]}]}]}}`, false},
		{"folded string", "A: >-\n  one\n  two\n", `{"A":"one two"}`, false},
		{"null", "A:\n", `{"A":null}`, false},
		{"getatt without attribute", "A: !GetAtt Q\n", "", true},
		{"duplicate key", "A: 1\nA: 2\n", "", true},
		{"alias", "A: &x 1\nB: *x\n", "", true},
		{"not a mapping", "- 1\n", "", true},
		{"two documents", "A: 1\n---\nB: 2\n", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := template.Parse([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse() error = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want {
				t.Errorf("Parse() = %s, want %s", b, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("A: !Ref B\n"))
	f.Add([]byte("Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := template.Parse(data)
		if err == nil && m == nil {
			t.Fatal("Parse returned neither a template nor an error")
		}
		if err == nil {
			if _, err := json.Marshal(m); err != nil {
				t.Fatalf("parsed template is not plain data: %v", err)
			}
		}
	})
}
