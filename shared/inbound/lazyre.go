package inbound

import (
	"regexp"
	"sync"
)

// lazyRegexp is a regular expression compiled on its first use. The
// contract's patterns bound lengths with counted repetitions ({1,128}), which
// compile into long programs: compiled when the package was initialised they
// cost every start of the binary about 1.4 MB of allocations and several
// milliseconds, whether or not the host ever receives an inbound message
// (issue 16, cold start). An invalid expression panics on first use; the
// package's tests use every one.
type lazyRegexp struct {
	expr string
	once sync.Once
	re   *regexp.Regexp
}

func lazy(expr string) *lazyRegexp { return &lazyRegexp{expr: expr} }

func (l *lazyRegexp) compiled() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.expr) })
	return l.re
}

// MatchString reports whether s matches the expression.
func (l *lazyRegexp) MatchString(s string) bool { return l.compiled().MatchString(s) }

// Match reports whether b matches the expression.
func (l *lazyRegexp) Match(b []byte) bool { return l.compiled().Match(b) }

// String is the source text of the expression.
func (l *lazyRegexp) String() string { return l.expr }
