package todo

import "testing"

func TestFingerprintSeparatesRequests(t *testing.T) {
	empty, a, b, org := "", "a", "b", "org"
	same := []NewTodo{{Title: "x"}, {Title: "x"}}
	if same[0].Fingerprint() != same[1].Fingerprint() {
		t.Fatal("the same create gave two fingerprints")
	}
	distinct := []NewTodo{
		{Title: "x"}, {Title: "y"}, {Title: "x", Completed: true},
		{Title: "x", Description: &empty}, {Title: "x", Description: &a}, {Title: "x", Description: &b},
		{Title: "xa"}, {Title: "x", Description: &a, Completed: true},
		{Title: "x", OrganizationID: &org}, {Title: "x", OrganizationID: &a}, {Title: "x", Description: &a, OrganizationID: &a},
	}
	seen := map[[32]byte]int{}
	for i, n := range distinct {
		fp := n.Fingerprint()
		if j, ok := seen[fp]; ok {
			t.Errorf("creates %d and %d share a fingerprint", j, i)
		}
		seen[fp] = i
	}
}

func TestValidIdempotencyKey(t *testing.T) {
	long := make([]byte, MaxIdempotencyKeyLen+1)
	for i := range long {
		long[i] = 'k'
	}
	for key, want := range map[string]bool{
		"8e03978e-40d5-43e8-bc93-6894a57f9324": true, "a b~": true, string(long[1:]): true,
		"": false, string(long): false, "tab\there": false, "é": false, "nul\x00": false,
	} {
		if got := ValidIdempotencyKey(key); got != want {
			t.Errorf("ValidIdempotencyKey(%q) = %v, want %v", key, got, want)
		}
	}
}
