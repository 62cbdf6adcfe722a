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

	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
)

type burstyArgs struct {
	Data, Ack *ring.Pipe
	Bursts    int
	Max       int // longest record
	Seed      uint64
	Buffer    int // Writer.SetBuffer: records wait for a buffer's worth, a Flush or Close
}

// bursty streams Bursts bursts of gen's records, each of a random length, with Send or
// SendBatch (a few records at a time), and after each pauses in one of four ways: not at all,
// a spin of a few microseconds, a sleep of a millisecond, or until the reader acks the burst
// (it asks with an empty record; the writer then sits idle with its last records published).
// A buffered writer flushes before it waits for the ack, and before half of its sleeps.
var bursty = procs.Entry("ring.bursty", func(ctx context.Context, a burstyArgs) error {
	w, err := a.Data.Writer()
	if err != nil {
		return err
	}
	if err := w.SetBuffer(a.Buffer); err != nil {
		return err
	}
	r, err := a.Ack.Reader()
	if err != nil {
		return err
	}
	g := newGen(a.Seed, a.Max)
	rnd := rand.New(rand.NewPCG(a.Seed, 7))
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
		}
		switch b % 4 {
		case 1:
			for t := time.Now(); time.Since(t) < time.Duration(rnd.IntN(20))*time.Microsecond; {
			}
		case 2:
			if b%8 < 4 {
				if err := w.Flush(); err != nil {
					return err
				}
			}
			time.Sleep(time.Millisecond)
		case 3:
			if err := w.SendContext(ctx, nil); err != nil { // the reader acks on an empty record
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if _, err := r.RecvContext(ctx, nil); err != nil {
				return err
			}
		}
	}
	return w.Close()
})

// TestPipeBurstsOfEveryKind: a reader that streams behind the writer's tail (its slip), stops
// when the stream pauses and starts again gets every record whole and in order, through every
// kind of pause, the writer sending one record at a time or in batches; and a writer that
// waits for an answer to its last records gets it (the reader answers only once it has read
// them). Issue 14's part 4 wrote records with non-temporal stores for a streaming reader; with
// the reader's check of them removed, this test saw a record whose bytes became visible after
// its header (see package ring's pipeShared). A buffered writer (SetBuffer, which writes around
// the cache and fences before each publication) goes through the same bursts.
func TestPipeBurstsOfEveryKind(t *testing.T) {
	for _, buffer := range []int{0, 2048} {
		t.Run(fmt.Sprintf("buffer=%d", buffer), func(t *testing.T) { bursts(t, buffer) })
	}
}

func bursts(t *testing.T, buffer int) {
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
	child, err := bursty.Start(t.Context(), burstyArgs{Data: data, Ack: ack, Bursts: bursts, Max: maxLen, Seed: seed, Buffer: buffer})
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
	return "equal on a second look: its bytes became visible after its header"
}
