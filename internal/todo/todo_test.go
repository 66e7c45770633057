package todo

import (
	"errors"
	"strings"
	"testing"
)

func TestNewTodoValidate(t *testing.T) {
	long := strings.Repeat("é", MaxTitleLen+1)
	desc := strings.Repeat("x", MaxDescriptionLen+1)
	nul := "a\x00b"
	cases := []struct {
		name  string
		in    NewTodo
		field string
	}{
		{"Success", NewTodo{Title: "buy milk"}, ""},
		{"SuccessMaxTitleInRunes", NewTodo{Title: strings.Repeat("é", MaxTitleLen)}, ""},
		{"ErrTitleEmpty", NewTodo{Title: ""}, "title"},
		{"ErrTitleBlank", NewTodo{Title: " \t\n\u00a0"}, "title"},
		{"ErrTitleTooLong", NewTodo{Title: long}, "title"},
		{"ErrTitleNUL", NewTodo{Title: nul}, "title"},
		{"ErrDescriptionTooLong", NewTodo{Title: "x", Description: &desc}, "description"},
		{"ErrDescriptionNUL", NewTodo{Title: "x", Description: &nul}, "description"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Validate()
			var v *ValidationError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.field != "" && (!errors.As(err, &v) || v.Field != tc.field):
				t.Fatalf("err = %v, want a ValidationError on %s", err, tc.field)
			}
		})
	}
}

func TestUserPatchValidate(t *testing.T) {
	long := strings.Repeat("n", MaxNameLen+1)
	if err := (UserPatch{NameSet: true, Name: &long}).Validate(); err == nil {
		t.Fatal("over-long name accepted")
	}
	if err := (UserPatch{NameSet: true}).Validate(); err != nil {
		t.Fatalf("clearing the name refused: %v", err)
	}
}

func TestOrganizationIDValidate(t *testing.T) {
	long := strings.Repeat("o", MaxOrganizationIDLen+1)
	for id, ok := range map[string]bool{
		"KkHq7Ny2mSx6dQp1Zr3Tf9Wb5Lc8Vh4J": true, "org é": true, strings.Repeat("é", MaxOrganizationIDLen): true,
		"": false, long: false, "a\x00b": false, "tab\t": false, "\xff": false,
	} {
		err := (NewTodo{Title: "x", OrganizationID: &id}).Validate()
		var v *ValidationError
		switch {
		case ok && err != nil:
			t.Errorf("organization id %q refused: %v", id, err)
		case !ok && (!errors.As(err, &v) || v.Field != "organization_id"):
			t.Errorf("organization id %q: err = %v, want a ValidationError on organization_id", id, err)
		}
		if got := (TodoPatch{OrganizationIDSet: true, OrganizationID: &id}).Validate(); (got == nil) != ok {
			t.Errorf("patch to organization id %q: err = %v", id, got)
		}
	}
	if err := (TodoPatch{OrganizationIDSet: true}).Validate(); err != nil {
		t.Errorf("making a todo personal refused: %v", err)
	}
}
