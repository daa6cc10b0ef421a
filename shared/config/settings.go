package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"
)

// Setting is one environment variable Config reads, as `privops help` lists
// it: generated from the struct tags, so the list cannot drift from Load.
type Setting struct {
	Name    string
	Default string // "" when there is none
	Secret  bool
}

// Settings lists every setting in the order Config declares them.
func Settings() []Setting {
	rt := reflect.TypeFor[Config]()
	out := make([]Setting, 0, rt.NumField())
	for i := range rt.NumField() {
		f := rt.Field(i)
		if name := f.Tag.Get("envconfig"); name != "" {
			out = append(out, Setting{Name: name, Default: f.Tag.Get("default"), Secret: f.Tag.Get("secret") != ""})
		}
	}
	return out
}

// Bound is the range a duration setting must fall in; Max 0 means no ceiling.
type Bound struct {
	Name     string
	Min, Max time.Duration
}

// DurationBounds lists the floor (and ceiling) of every duration setting, as
// Load enforces them. The README states each one; a test checks both.
func DurationBounds() []Bound {
	return []Bound{
		{"QUEUE_LEASE", 5 * time.Second, 0},
		{"INBOUND_WINDOW", 30 * time.Second, time.Hour},
		{"INBOUND_KEEP_REJECTED", time.Hour, 90 * 24 * time.Hour},
		{"CODE_TTL", time.Minute, time.Hour},
		{"UNVERIFIED_EXPIRY", time.Hour, 90 * 24 * time.Hour},
		{"CLARIFICATION_WAIT", 24 * time.Hour, 90 * 24 * time.Hour},
		{"OUTBOX_LEASE", time.Second, 0},
		{"TASK_LEASE", 30 * time.Second, 0},
		{"TASK_RETRY_BASE", time.Second, 0},
		{"TASK_RETRY_CAP", time.Second, 0},
		{"WEBHOOK_TIMEOUT", time.Second, 0},
		{"TASK_CALLBACK_TIMEOUT", 30 * time.Second, 30 * 24 * time.Hour},
		{"RETENTION_BUDGET", time.Second, 10 * time.Minute},
		{"RETENTION_SERVICE_ANSWER_WAIT", time.Minute, 20 * time.Hour},
		{"RETENTION_LEASE", 11 * time.Second, 0}, // and at least RETENTION_BUDGET + 10s
		{"OFFBOARD_NOTICE", time.Second, 180 * 24 * time.Hour},
		{"BREACH_SEND_RETRY_BASE", time.Second, time.Hour},
		{"BREACH_RECIPIENTS_KEEP", 24 * time.Hour, 90 * 24 * time.Hour},
		{"DEADLETTER_KEEP", 24 * time.Hour, 90 * 24 * time.Hour},
	}
}

// ErrNoDevKey is returned by DevKey when the server has not made its keys.
var ErrNoDevKey = errors.New("no dev token key")

// DevKey returns the key dev tokens are signed with, as the server has it:
// AUTH_DEV_KEY, else the key the server generated in DATA_DIR/secrets.json.
// Unlike LoadSecrets it never generates one: a token signed with a key the
// server does not hold would be refused by it. The error names the file it
// read (DATA_DIR is relative to the working directory) and both remedies.
func (c *Config) DevKey() ([]byte, error) {
	v := c.AuthDevKey
	if v == "" {
		file, err := filepath.Abs(filepath.Join(c.DataDir, "secrets.json"))
		if err != nil {
			file = filepath.Join(c.DataDir, "secrets.json")
		}
		b, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: AUTH_DEV_KEY is not set and %s does not exist; start the server once with the same DATA_DIR (it generates its keys there), or set AUTH_DEV_KEY to the server's key", ErrNoDevKey, file)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		var stored struct{ AuthDevKey string }
		if err := json.Unmarshal(b, &stored); err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		if stored.AuthDevKey == "" {
			return nil, fmt.Errorf("%w: AUTH_DEV_KEY is not set and %s holds none; set AUTH_DEV_KEY to the server's key", ErrNoDevKey, file)
		}
		v = stored.AuthDevKey
	}
	k, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(k) < 32 {
		return nil, errors.New("AUTH_DEV_KEY: must be base64 of at least 32 bytes")
	}
	return k, nil
}
