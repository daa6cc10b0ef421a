package ncrontab

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	after := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		spec    string
		want    time.Time
		wantErr bool
	}{
		{spec: "0 0 2 * * *", want: time.Date(2030, 2, 1, 2, 0, 0, 0, time.UTC)},
		{spec: "0 5 * * * *", want: time.Date(2030, 1, 31, 2, 5, 0, 0, time.UTC)},
		{spec: "*/1 * * * * *", want: time.Date(2030, 1, 31, 2, 0, 1, 0, time.UTC)},
		{spec: "0 30 9 * * 1-5", want: time.Date(2030, 1, 31, 9, 30, 0, 0, time.UTC)},
		{spec: "0 0 0 1 * *", want: time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)},
		{spec: "@hourly", want: time.Date(2030, 1, 31, 3, 0, 0, 0, time.UTC)},
		// NCRONTAB as the Functions host reads it: lists, steps, ranges and
		// English month and weekday names (2030-01-31 is a Thursday).
		{spec: "0 0,30 9-17 * * *", want: time.Date(2030, 1, 31, 9, 0, 0, 0, time.UTC)},
		{spec: "0 */5 * * * *", want: time.Date(2030, 1, 31, 2, 5, 0, 0, time.UTC)},
		{spec: "30 0 8 * Feb Mon", want: time.Date(2030, 2, 4, 8, 0, 30, 0, time.UTC)},
		{spec: "0 0 12 * * Sat,Sun", want: time.Date(2030, 2, 2, 12, 0, 0, 0, time.UTC)},
		{spec: "0 60 * * * *", wantErr: true},
		{spec: "0 0 * * * * 2030", wantErr: true},
		{spec: "every hour", wantErr: true},
		{spec: "0 2 * * *", wantErr: true},
		{spec: "TZ=Europe/Berlin 0 0 2 * * *", wantErr: true},
		{spec: "01:00:00", wantErr: true},
		{spec: "0 0 0 30 2 *", wantErr: true},
		{spec: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tc.spec)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse(%q) error = %v, want error %v", tc.spec, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			// Next must be UTC whatever the machine's zone (the input is UTC).
			if got := s.Next(after); !got.Equal(tc.want) || got.Location().String() != "UTC" {
				t.Errorf("Next(%s) = %s, want %s", after, got, tc.want)
			}
		})
	}
}
