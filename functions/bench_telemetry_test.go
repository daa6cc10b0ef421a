package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/telemetry"
)

// BenchmarkIntakeInProcess serves portal submissions through the wired
// portal function (web.Logged, the router, the service, the in-memory store
// and queue: the intake's own CPU, no network, no disk), with telemetry off
// (the default: nothing installed) and on (the SDK recording every span and
// metric, exporting to nowhere). Compare "off" with the same benchmark before
// the telemetry change to see what the default costs:
//
//	go test -run '^$' -bench IntakeInProcess -benchmem -count 6 ./functions/
func BenchmarkIntakeInProcess(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchIntake(b, nil) })
	b.Run("on", func(b *testing.B) {
		tel, err := telemetry.New(sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter())),
			sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())), time.Now)
		if err != nil {
			b.Fatal(err)
		}
		benchIntake(b, tel)
	})
}

func benchIntake(b *testing.B, tel *telemetry.Telemetry) {
	cfg, err := config.Load()
	if err != nil {
		b.Fatal(err)
	}
	cfg.DataDir = benchDataDir(b) // kept until the process ends (benchdir_test.go)
	cfg.RateSubmitPerIP, cfg.RateSubmitPerEmail = 1<<30, 1<<30
	a := &app{cfg: cfg, log: logging.New(io.Discard, "info"), secrets: config.Secrets{Root: bytes.Repeat([]byte{9}, 32), DevJWT: devKey}}
	a.tel = tel
	verifier, err := auth.NewHS256(devKey, cfg.AuthIssuer, cfg.AuthAudience, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.wire(adapters{store: inmem.NewStore(), publisher: inmem.NewQueue(inmem.QueueOptions{}), mailer: &mailbox{},
		verifier: verifier, now: time.Now}); err != nil {
		b.Fatal(err)
	}
	if _, err := a.svc.EnsureTenant(context.Background(), demoTenant()); err != nil {
		b.Fatal(err)
	}
	var portal http.Handler
	for _, f := range a.funcs {
		if f.Name == "portal" {
			portal = f.HTTP
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := httptest.NewRequest("POST", "/api/portal/demo/requests",
			strings.NewReader(fmt.Sprintf(`{"type":"access","email":"load%d@example.com","country":"DE"}`, i)))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		portal.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			b.Fatalf("submit: %d %s", w.Code, w.Body)
		}
	}
}
