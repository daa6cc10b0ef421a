package privacy_test

import (
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
)

func TestZoneKeepsWhatLoaded(t *testing.T) {
	t.Parallel()
	a, err := privacy.Zone("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	b, err := privacy.Zone("America/Sao_Paulo")
	if err != nil || a != b {
		t.Fatalf("second Zone = %p, %v; want the same location %p", b, err, a)
	}
	want, _ := time.LoadLocation("America/Sao_Paulo")
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	if got, w := at.In(a).Format(time.RFC3339), at.In(want).Format(time.RFC3339); got != w {
		t.Errorf("Zone's time %s, LoadLocation's %s", got, w)
	}
	for range 2 { // a name that does not load is not kept as loaded
		if l, err := privacy.Zone("Mars/Olympus_Mons"); err == nil {
			t.Fatalf("Zone(Mars/Olympus_Mons) = %v, want an error", l)
		}
	}
}
