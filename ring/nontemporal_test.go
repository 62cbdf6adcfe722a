package ring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/fence"
	"github.com/shmkit/shmkit/internal/nontemporal"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
)

// aroundHere: a light writer writes around the cache for a streaming reader here.
const aroundHere = nontemporal.Available && fence.LightHere

type aroundArgs struct {
	Data, Ack *ring.Pipe
	Bursts    int
	Max       int // longest record
	Seed      uint64
}

// around streams Bursts bursts of gen's records with Send or SendBatch, each of a random length, and after
// each pauses in one of four ways: not at all, a spin of a few microseconds, a sleep of a
// millisecond, or until the reader acks the burst (sent once it has read it all: the writer
// then sits idle with its last records written and not fenced). Where the writer can write
// around the cache it must have: the error says so otherwise.
var around = procs.Entry("ring.around", func(ctx context.Context, a aroundArgs) error {
	w, err := a.Data.Writer()
	if err != nil {
		return err
	}
	r, err := a.Ack.Reader()
	if err != nil {
		return err
	}
	g := newGen(a.Seed, a.Max)
	rnd := rand.New(rand.NewPCG(a.Seed, 7))
	aroundSent := 0
	for b := range a.Bursts {
		for n := 1 + rnd.IntN(3000); n > 0; {
			if b%8 < 4 {
				if err := w.SendContext(ctx, nonEmpty(g)); err != nil {
					return err
				}
				n--
			} else { // SendBatch, a few records at a time
				batch := make([][]byte, min(n, 1+rnd.IntN(40)))
				for i := range batch {
					batch[i] = bytes.Clone(nonEmpty(g))
				}
				if err := w.SendBatchContext(ctx, batch); err != nil {
					return err
				}
				n -= len(batch)
			}
			if ring.Nontemporal(w) {
				aroundSent++
			}
		}
		switch b % 4 {
		case 1:
			for t := time.Now(); time.Since(t) < time.Duration(rnd.IntN(20))*time.Microsecond; {
			}
		case 2:
			time.Sleep(time.Millisecond)
		case 3:
			if err := w.SendContext(ctx, nil); err != nil { // the reader acks on an empty record
				return err
			}
			if _, err := r.RecvContext(ctx, nil); err != nil {
				return err
			}
		}
	}
	if aroundHere && ring.IsLight(w) && aroundSent == 0 {
		return errors.New("no record was written around the cache")
	}
	return w.Close()
})

// TestPipeNontemporal: a streaming reader makes a light writer write its records with
// non-temporal stores (Writer.around), which other cores may see out of order; the reader
// still gets every record whole, in order, through every kind of pause: while the stream runs
// (below the tail the writer fences), when it pauses (the reader goes on past the tail and
// waits for the barrier), and when the writer waits for an answer to its last records.
func TestPipeNontemporal(t *testing.T) {
	data, ack := newPipe(t, 1<<16), newPipe(t, 4096)
	r, err := data.Reader()
	if err != nil {
		t.Fatal(err)
	}
	w, err := ack.Writer()
	if err != nil {
		t.Fatal(err)
	}
	const bursts, maxLen, seed = 400, 300, 11
	child, err := around.Start(t.Context(), aroundArgs{Data: data, Ack: ack, Bursts: bursts, Max: maxLen, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	g := newGen(seed, maxLen)
	for i := 0; ; i++ {
		got, err := r.NextContext(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if len(got) == 0 { // the writer waits for this ack
			if err := w.SendContext(ctx, []byte{1}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if want := nonEmpty(g); string(got) != string(want) {
			t.Fatalf("record %d (gen %d): %d bytes, %s", i, g.seq-1, len(got), diff(got, want))
		}
	}
	if err := child.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// nonEmpty is gen's next record of at least a byte: an empty one asks for an ack.
func nonEmpty(g *gen) []byte {
	for {
		if b := g.next(); len(b) > 0 {
			return b
		}
	}
}

func diff(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("want %d", len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: %#x, want %#x", i, got[i], want[i])
		}
	}
	return "equal"
}
