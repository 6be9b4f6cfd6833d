package lambdarie

import (
	"net/http"
	"testing"
)

func TestFunctionError(t *testing.T) {
	tests := []struct {
		name, body, header, wantType string
		want                         bool
	}{
		{"runtime error document", `{"errorMessage":"m","errorType":"T"}`, "", "T", true},
		{"with stack trace", `{"errorMessage":"m","errorType":"T","stackTrace":[]}`, "", "T", true},
		{"ordinary response", `{"job_id":"x"}`, "", "", false},
		{"response with more fields", `{"errorType":"T","errorMessage":"m","status":"ok"}`, "", "", false},
		{"not JSON", `hello`, "", "", false},
		{"header from real Lambda", `{"errorMessage":"m","errorType":"T","extra":1}`, "Unhandled", "T", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("X-Amz-Function-Error", tc.header)
			}
			fe := functionError(h, []byte(tc.body))
			if (fe != nil) != tc.want || (fe != nil && fe.Type != tc.wantType) {
				t.Errorf("functionError(%s) = %+v, want error %v of type %q", tc.body, fe, tc.want, tc.wantType)
			}
		})
	}
}
