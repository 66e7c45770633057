package audit

import (
	"encoding/json"
	"io"
)

// WriteJSON writes the whole report as one indented JSON document. Field
// names are snake_case and stable; absent values are null, never missing,
// and lists are [] when empty.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
