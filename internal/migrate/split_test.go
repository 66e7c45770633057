package migrate

import (
	"reflect"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	script := "-- head\ncreate table a (x text default 'a;b''c');\n" +
		"create function f() returns int language sql as $$ select 1; $$;\n" +
		"do $body$ begin perform 1; end $body$;\n" +
		"/* a; /* nested; */ */ select \"we;ird\", E'x\\';y', $1;\n" +
		"-- trailing comment only\n"
	var got []string
	for _, s := range splitStatements(script) {
		got = append(got, script[s.Offset:s.Offset+len("create")])
	}
	want := []string{"create", "create", "do $bo", "/* a; "}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("statement starts = %q, want %q", got, want)
	}
}
