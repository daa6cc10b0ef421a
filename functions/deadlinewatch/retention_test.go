package deadlinewatch

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/privops/privops/shared/ncrontab"
	"github.com/privops/privops/shared/privacy"
)

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func TestLastOccurrence(t *testing.T) {
	t.Parallel()
	nightly, _ := ncrontab.Parse("0 0 2 * * *")
	everySecond, _ := ncrontab.Parse("* * * * * *")
	for _, tc := range []struct {
		name  string
		s     ncrontab.Schedule
		until time.Time
		want  time.Time
	}{
		{"after tonight's", nightly, utc(2030, 3, 31, 3, 0), utc(2030, 3, 31, 2, 0)},
		{"before tonight's", nightly, utc(2030, 3, 31, 1, 59), utc(2030, 3, 30, 2, 0)},
		{"exactly at it", nightly, utc(2030, 3, 31, 2, 0), utc(2030, 3, 31, 2, 0)},
		{"month end into a new month", nightly, utc(2030, 3, 1, 0, 30), utc(2030, 2, 28, 2, 0)},
		{"every second", everySecond, utc(2030, 1, 1, 0, 0), utc(2030, 1, 1, 0, 0)},
		{"no schedule", nil, utc(2030, 1, 1, 0, 0), time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := lastOccurrence(tc.s, tc.until); !got.Equal(tc.want) {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestMissedRetention(t *testing.T) {
	t.Parallel()
	due := utc(2030, 3, 31, 2, 0)
	tenant := func(policyAt time.Time, lastRun time.Time) *privacy.Tenant {
		t := &privacy.Tenant{ID: "acme"}
		if !policyAt.IsZero() {
			t.RetentionPolicies = []privacy.RetentionPolicy{{ID: "p", CreatedAt: policyAt}}
		}
		if !lastRun.IsZero() {
			t.Retention, _ = json.Marshal(map[string]any{"recent": []map[string]any{{"id": "r", "startedAt": lastRun, "policies": []any{}}}})
		}
		return t
	}
	for _, tc := range []struct {
		name string
		t    *privacy.Tenant
		want bool
	}{
		{"ran tonight", tenant(utc(2030, 1, 1, 0, 0), due.Add(3*time.Second)), false},
		{"last ran yesterday", tenant(utc(2030, 1, 1, 0, 0), due.Add(-24*time.Hour)), true},
		{"never ran", tenant(utc(2030, 1, 1, 0, 0), time.Time{}), true},
		{"policy made after the occurrence", tenant(due.Add(time.Minute), time.Time{}), false},
		{"no policies", tenant(time.Time{}, time.Time{}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := missedRetention(tc.t, due); got != tc.want {
				t.Errorf("missed = %v, want %v", got, tc.want)
			}
		})
	}
}
