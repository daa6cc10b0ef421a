package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/logging"
)

func BenchmarkZZProfile(b *testing.B) {
	os.Setenv("DATA_DIR", b.TempDir())
	os.Setenv("RATE_SUBMIT_PER_IP", "100000000")
	os.Setenv("RATE_SUBMIT_PER_EMAIL", "100000000")
	cfg, _ := config.Load()
	a, err := build(context.Background(), cfg, logging.New(io.Discard, "info"))
	if err != nil {
		b.Fatal(err)
	}
	a.demo(context.Background(), io.Discard)
	mux := http.NewServeMux()
	mux.Handle("/api/portal/", a.funcs[0].HTTP)
	srv := httptest.NewServer(mux)
	c := loadClient()
	b.ResetTimer()
	stop := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	n := 0
	var mu sync.Mutex
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, ok := submitOnce(c, srv.URL+"/api/portal/demo/requests"); ok {
					mu.Lock(); n++; mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(n)/5, "req/s")
}
