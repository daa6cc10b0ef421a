package privacy

import (
	"sync"
	"time"
)

// zones holds every time zone Zone loaded, by name. Only names that loaded
// are kept, so it holds at most the IANA database's few hundred zones.
var zones sync.Map // string → *time.Location

// Zone is time.LoadLocation with the result kept: LoadLocation reads and
// parses the zone's file on every call, and a tenant's zone is asked for on
// each mail and deadline (and each breach clock rule's at start). A
// *time.Location is immutable once loaded, so one is shared.
func Zone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
}
