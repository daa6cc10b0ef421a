package privacy_test

import (
	"testing"

	"github.com/privops/privops/shared/privacy"
)

func TestValidCountry(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code string
		want bool
	}{
		{"DE", true}, {"GB", true}, {"US", true}, {"CN", true}, {"BR", true}, {"GR", true},
		{"AX", true}, {"SS", true}, {"XK", false}, // Kosovo: user-assigned, not ISO 3166-1
		{"XX", false}, {"ZZ", false}, {"AA", false}, {"QM", false}, {"EU", false},
		{"UK", false}, {"EL", false}, // exceptionally reserved: GB and GR are the codes
		{"de", false}, {"", false}, {"DEU", false}, {"D", false},
	}
	for _, tc := range cases {
		if got := privacy.ValidCountry(tc.code); got != tc.want {
			t.Errorf("ValidCountry(%q) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

// TestCountryTableSize: ISO 3166-1 assigns 249 alpha-2 codes; a code lost or
// doubled while editing the table shows here.
func TestCountryTableSize(t *testing.T) {
	t.Parallel()
	n := 0
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			if privacy.ValidCountry(string([]rune{a, b})) {
				n++
			}
		}
	}
	if n != 249 {
		t.Errorf("%d assigned codes, want 249", n)
	}
}
