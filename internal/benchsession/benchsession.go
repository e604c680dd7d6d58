// Package benchsession is the session the benchmarks of every module store:
// an ID, a name, a cart of five items and two preferences.
package benchsession

// User is the benchmarks' session type.
type User struct {
	UserID int
	Name   string
	Cart   []string
	Prefs  map[string]string
}

// Seed is the session every benchmark starts from.
func Seed() User {
	return User{
		UserID: 4211,
		Name:   "Ada Lovelace",
		Cart:   []string{"sku-0001", "sku-0002", "sku-0003", "sku-0004", "sku-0005"},
		Prefs:  map[string]string{"theme": "dark", "lang": "en-GB"},
	}
}
