package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"check", "check", 0},
		{"chek", "check", 1},
		{"stauts", "status", 1},
		{"stauts", "start", 2},
		{"", "run", 3},
		{"kitten", "sitting", 3},
		{"grâce", "grace", 1},
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Distance(c.b, c.a); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.b, c.a, got, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	verbs := []string{"status", "start", "stop", "restart", "reload", "signal"}
	for _, c := range []struct {
		word string
		max  int
		want string
	}{
		{"stauts", 2, "status"},
		{"strat", 2, "start"},
		{"relaod", 2, "reload"},
		{"stop", 2, "stop"},
		{"frobnicate", 2, ""},
		{"stauts", 0, ""},
	} {
		if got := Closest(c.word, verbs, c.max); got != c.want {
			t.Errorf("Closest(%q, max %d) = %q, want %q", c.word, c.max, got, c.want)
		}
	}
}
