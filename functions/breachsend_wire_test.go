package main

import (
	"reflect"
	"testing"

	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/cosmos"
	"github.com/privops/privops/shared/sqlite"
)

// TestBreachStoreFollowsTheStoreBackend: with STORE_BACKEND=cosmos the
// fan-out runs on the Cosmos adapter (it answered 501
// breach-notification-not-available before there was one), with sqlite on
// the embedded file, and without a store there is none.
func TestBreachStoreFollowsTheStoreBackend(t *testing.T) {
	t.Parallel()
	cs, err := cosmos.New(cosmos.Config{Endpoint: "https://example.invalid:443/", Auth: cosmos.AuthKey,
		Key: "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="})
	if err != nil {
		t.Fatal(err) // New makes no network call
	}
	t.Cleanup(cs.Close)
	tests := []struct {
		name string
		a    *app
		want string
	}{
		{"cosmos", &app{cfg: &config.Config{StoreBackend: "cosmos"}, cosmosState: cosmosState{cosmos: cs}, db: new(sqlite.DB)}, "*cosmos.BreachSendStore"},
		{"sqlite", &app{cfg: &config.Config{StoreBackend: "sqlite"}, db: new(sqlite.DB)}, "*sqlite.BreachStore"},
		{"none", &app{cfg: &config.Config{StoreBackend: "cosmos"}}, "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := typeName(tt.a.breachStore()); got != tt.want {
				t.Errorf("breach store %s, want %s", got, tt.want)
			}
		})
	}
}

func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return reflect.TypeOf(v).String()
}
