package export_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/export"
)

// synthParts returns four services of total/4 bytes each: flat-a and flat-b
// hold flat contact records, nested-a and nested-b support tickets with
// message threads. Every Open generates the same bytes anew.
func synthParts(total int64) []export.Part {
	var parts []export.Part
	for i, id := range []string{"flat-a", "flat-b", "nested-a", "nested-b"} {
		size := total / 4
		if i == 3 {
			size = total - 3*(total/4)
		}
		flat, seed := strings.HasPrefix(id, "flat"), uint64(i+1)
		parts = append(parts, export.Part{
			Service: id,
			Name:    "Synthetic " + id,
			Open: func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(newSynth(size, seed, flat)), nil
			},
		})
	}
	return parts
}

var (
	synthWords = strings.Fields(`account address after again against billing birthday
		business called change city company contact customer delivery email
		every first follow friday from great happy help home invoice issue
		last late local login market member message monday month morning
		new newsletter number office order package password payment phone
		please plan price product question received refund renewal reset
		service shipping since store street subscription support thanks
		ticket today tomorrow update user week weekend welcome work year`)
	synthFirst = strings.Fields("Ada Alan Grace Linus Margaret Dennis Barbara Ken Radia Tim Frances John Hedy Edsger Katherine Donald")
	synthLast  = strings.Fields("Lovelace Turing Hopper Torvalds Hamilton Ritchie Liskov Thompson Perlman Berners-Lee Allen Backus Lamarr Dijkstra Johnson Knuth")
	synthCity  = strings.Fields("Berlin Paris Madrid Lisbon Dublin Warsaw Vienna Prague Oslo Helsinki Athens Rome Zurich Brussels Amsterdam Riga")
	synthEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

const (
	synthHead = "{\"items\":[\n"
	synthTail = "\n]}\n"
)

// synth generates a stored export of exactly size bytes (or the smallest
// valid document, if size is smaller), deterministically from seed.
type synth struct {
	rng     *rand.Rand
	flat    bool
	left    int64 // bytes still to generate
	buf     []byte
	off     int
	item    []byte
	n       int
	started bool
	done    bool
}

func newSynth(size int64, seed uint64, flat bool) *synth {
	return &synth{rng: rand.New(rand.NewPCG(seed, 42)), flat: flat, left: size, buf: make([]byte, 0, 96<<10)}
}

func (s *synth) Read(p []byte) (int, error) {
	for s.off == len(s.buf) {
		if s.done {
			return 0, io.EOF
		}
		s.fill()
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// fill generates the next 64 KiB or so.
func (s *synth) fill() {
	s.buf, s.off = s.buf[:0], 0
	if !s.started {
		s.started = true
		s.emit([]byte(synthHead))
	}
	for len(s.buf) < 64<<10 {
		s.item = s.item[:0]
		if s.n > 0 {
			s.item = append(s.item, ",\n"...)
		}
		if s.flat {
			s.item = s.appendFlat(s.item)
		} else {
			s.item = s.appendNested(s.item)
		}
		if int64(len(s.item)+len(synthTail)) > s.left {
			// Pad to the exact size with whitespace, then close.
			pad := max(s.left-int64(len(synthTail)), 0)
			s.emit(bytes.Repeat([]byte{' '}, int(pad)))
			s.emit([]byte(synthTail))
			s.done = true
			return
		}
		s.emit(s.item)
		s.n++
	}
}

func (s *synth) emit(b []byte) {
	s.buf = append(s.buf, b...)
	s.left -= int64(len(b))
}

func (s *synth) word() string { return synthWords[s.rng.IntN(len(synthWords))] }

func (s *synth) appendWords(b []byte, n int) []byte {
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, s.word()...)
	}
	return b
}

func (s *synth) appendTime(b []byte) []byte {
	t := time.Unix(synthEpoch+s.rng.Int64N(5*365*24*3600), 0).UTC()
	return t.AppendFormat(b, time.RFC3339)
}

func (s *synth) appendFlat(b []byte) []byte {
	first, last := synthFirst[s.rng.IntN(len(synthFirst))], synthLast[s.rng.IntN(len(synthLast))]
	b = append(b, `{"id":"u-`...)
	b = strconv.AppendInt(b, int64(s.n), 10)
	b = append(b, `","email":"`...)
	b = append(b, strings.ToLower(first)...)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(s.rng.IntN(100000)), 10)
	b = append(b, `@example.com","name":"`...)
	b = append(b, first...)
	b = append(b, ' ')
	b = append(b, last...)
	b = append(b, `","city":"`...)
	b = append(b, synthCity[s.rng.IntN(len(synthCity))]...)
	b = append(b, `","score":`...)
	b = strconv.AppendFloat(b, float64(s.rng.IntN(100000))/100, 'f', -1, 64)
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, s.rng.IntN(2) == 0)
	b = append(b, `,"referrer":null,"createdAt":"`...)
	b = s.appendTime(b)
	b = append(b, `","note":"`...)
	b = s.appendWords(b, 4+s.rng.IntN(20))
	return append(b, `"}`...)
}

func (s *synth) appendNested(b []byte) []byte {
	b = append(b, `{"ticketId":"t-`...)
	b = strconv.AppendInt(b, int64(s.n), 10)
	b = append(b, `","subject":"`...)
	b = s.appendWords(b, 3+s.rng.IntN(5))
	b = append(b, `","status":"`...)
	b = append(b, [...]string{"open", "pending", "closed"}[s.rng.IntN(3)]...)
	b = append(b, `","customer":{"name":"`...)
	b = append(b, synthFirst[s.rng.IntN(len(synthFirst))]...)
	b = append(b, `","tier":`...)
	b = strconv.AppendInt(b, int64(1+s.rng.IntN(3)), 10)
	b = append(b, `},"messages":[`...)
	for i := range 1 + s.rng.IntN(4) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"from":"`...)
		b = append(b, [...]string{"customer", "agent"}[i%2]...)
		b = append(b, `","at":"`...)
		b = s.appendTime(b)
		b = append(b, `","text":"`...)
		b = s.appendWords(b, 8+s.rng.IntN(40))
		b = append(b, `"}`...)
	}
	b = append(b, `],"tags":["`...)
	b = append(b, s.word()...)
	b = append(b, `","`...)
	b = append(b, s.word()...)
	return append(b, `"]}`...)
}
