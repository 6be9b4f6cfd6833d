package cloud

import "testing"

func TestMatchRoute(t *testing.T) {
	tests := []struct {
		path, route, param string
	}{
		{"/courses/ADE/analyses", RoutePost, "ADE"},
		{"/prod/courses/ADE/analyses", RoutePost, "ADE"},
		{"/courses/ADE/uploads", RouteUpload, "ADE"},
		{"/prod/courses/ADE/uploads", RouteUpload, "ADE"},
		{"/courses/ADE/uploads/x", "", ""},
		{"/analyses/ade-0123456789ab", RouteGet, "ade-0123456789ab"},
		{"/prod/analyses/ade-0123456789ab", RouteGet, "ade-0123456789ab"},
		{"/analyses/ade-0123456789ab/report", RouteReport, "ade-0123456789ab"},
		{"/prod/analyses/ade-0123456789ab/report", RouteReport, "ade-0123456789ab"},
		{"/analyses/ade-0123456789ab/reports", "", ""},
		{"/analyses//report", "", ""},
		{"/courses/B/analyses/ade-0123456789ab", "", ""},
		{"/x/y/analyses/ade-0123456789ab", "", ""},
		{"/courses//analyses", "", ""},
		{"/analyses/", "", ""},
		{"/", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		route, params := matchRoute("GET", tt.path)
		got := params["course"] + params["job"]
		if route != tt.route || got != tt.param {
			t.Errorf("matchRoute(%q) = %q %q, want %q %q", tt.path, route, got, tt.route, tt.param)
		}
	}
}
