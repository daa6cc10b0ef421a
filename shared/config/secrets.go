package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Secrets are the keys the suite runs with.
type Secrets struct {
	Root   []byte
	DevJWT []byte
}

// LoadSecrets decodes SECRET_KEY and AUTH_DEV_KEY. Standalone, a missing key is
// generated once and kept in DATA_DIR/secrets.json (mode 0600), so a restart
// keeps tokens, codes and subject hashes valid.
func (c *Config) LoadSecrets() (Secrets, error) { return c.loadSecrets(false) }

func (c *Config) loadSecrets(retried bool) (Secrets, error) {
	var s Secrets
	var stored struct{ SecretKey, AuthDevKey string }
	file := filepath.Join(c.DataDir, "secrets.json")
	existed := false
	if !c.Cloud() {
		if b, err := os.ReadFile(file); err == nil {
			existed = true
			if err := json.Unmarshal(b, &stored); err != nil {
				return s, fmt.Errorf("read %s: %w", file, err)
			}
		}
	}
	generated := false
	pick := func(name, env string, stored *string) ([]byte, error) {
		v := env // a key given in the environment is used, never written to disk
		if v == "" && !c.Cloud() {
			if *stored == "" {
				b := make([]byte, 32)
				_, _ = rand.Read(b)
				*stored = base64.StdEncoding.EncodeToString(b)
				generated = true
			}
			v = *stored
		}
		k, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("%s: must be base64 of at least 32 bytes", name)
		}
		return k, nil
	}
	var err error
	if s.Root, err = pick("SECRET_KEY", c.SecretKey, &stored.SecretKey); err != nil {
		return s, err
	}
	if c.AuthMode == "dev" {
		if s.DevJWT, err = pick("AUTH_DEV_KEY", c.AuthDevKey, &stored.AuthDevKey); err != nil {
			return s, err
		}
	}
	if generated {
		// Written only when a key was generated, and never in place: a
		// start beside a running suite or CLI reads the file while it is
		// written, and a kill halfway must not leave SECRET_KEY truncated.
		won, err := writeSecrets(c.DataDir, file, stored, existed)
		if err != nil {
			return s, err
		}
		if !won && retried {
			return s, fmt.Errorf("write %s: another process keeps creating it", file)
		}
		if !won {
			// Another process generated the keys first: use its.
			return c.loadSecrets(true)
		}
	}
	return s, nil
}

// writeSecrets writes stored to file through a synced temporary file: renamed
// over an existing file, or linked in place of a missing one so that, of two
// first starts, exactly one wins (won false: the other did, keep its keys).
func writeSecrets(dir, file string, stored any, replace bool) (won bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".secrets-*.json")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	b, _ := json.Marshal(stored)
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && replace {
		err = os.Rename(tmp.Name(), file)
	} else if err == nil {
		err = os.Link(tmp.Name(), file)
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("write %s: %w", file, err)
	}
	return true, nil
}
