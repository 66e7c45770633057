package todo

// MaxUserIDLen is the longest user id rowgate accepts, in characters. Better
// Auth issues 32-character ids; other providers issue longer ones.
const MaxUserIDLen = 255

// Caller is the identity a verified token carries. ID is the token's `sub`
// and is what PostgreSQL's row level security keys on; Email and Name are
// optional claims used only when the user is first provisioned.
type Caller struct {
	ID    string
	Email string
	Name  string
}
