package config

import (
	"regexp"
	"strings"
	"testing"
)

// The hand-written name checks accept exactly what the regular expressions
// they replaced accept.
func TestNameChecksMatchTheirPatterns(t *testing.T) {
	t.Parallel()
	queueRe := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,259}$`)
	claimRe := regexp.MustCompile(`^[!-~]{1,200}$`)
	for _, s := range []string{"", "a", "tasks", "Tasks-1.x_y", ".tasks", "-tasks", "_t", "tasks queue", "täsks", "a\n",
		strings.Repeat("q", 260), strings.Repeat("q", 261), "tid", "https://example.com/tid", "a b", "\"tid\"", "x\x7f",
		strings.Repeat("c", 200), strings.Repeat("c", 201), "~!"} {
		if got, want := validQueueName(s), queueRe.MatchString(s); got != want {
			t.Errorf("validQueueName(%q) = %v, want %v", s, got, want)
		}
		if got, want := validClaimName(s), claimRe.MatchString(s); got != want {
			t.Errorf("validClaimName(%q) = %v, want %v", s, got, want)
		}
	}
}
