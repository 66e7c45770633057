package main

import (
	"reflect"
	"testing"
)

func TestSplitURLs(t *testing.T) {
	for in, want := range map[string][]string{
		"":                   nil,
		"postgres://a@r1/db": {"postgres://a@r1/db"},
		"postgres://a@r1/db, postgresql://a@r2:5433/db": {"postgres://a@r1/db", "postgresql://a@r2:5433/db"},
		"postgres://a@h1:5432,h2:5432/db?target_session_attrs=any,postgres://a@r3/db": {
			"postgres://a@h1:5432,h2:5432/db?target_session_attrs=any", "postgres://a@r3/db"},
	} {
		if got := splitURLs(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitURLs(%q) = %q, want %q", in, got, want)
		}
	}
}
