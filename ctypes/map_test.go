package ctypes_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
)

func TestMapBasics(t *testing.T) {
	m, err := ctypes.CreateMap(testmain.Name(t), ctypes.MapConfig{Capacity: 64, KeyMax: 16, ValueMax: 32, Stripes: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unlink()
	defer m.Close()
	for i := range 40 {
		if err := m.Set(fmt.Appendf(nil, "key-%d", i), fmt.Appendf(nil, "value %d", i)); err != nil && !errors.Is(err, ctypes.ErrFull) {
			t.Fatal(err)
		}
	}
	n := m.Len()
	got := map[string]string{}
	for k, v := range m.Range() {
		got[string(k)] = string(v)
	}
	if len(got) != n || n < 30 {
		t.Fatalf("Len %d, Range %d entries", n, len(got))
	}
	for k, v := range got {
		if w, ok, err := m.Get([]byte(k), nil); err != nil || !ok || string(w) != v {
			t.Fatalf("Get(%s): %q %v %v, want %q", k, w, ok, err, v)
		}
	}
	if ok, err := m.Delete([]byte("key-3")); err != nil || (!ok && got["key-3"] != "") {
		t.Fatalf("Delete: %v %v", ok, err)
	}
	if _, ok, _ := m.Get([]byte("key-3"), nil); ok {
		t.Fatal("a deleted key is still there")
	}
	if err := m.Update([]byte("counter"), func(old []byte, ok bool) ([]byte, bool) {
		if ok {
			t.Error("a fresh key has a value")
		}
		return []byte{1}, true
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(bytes.Repeat([]byte{'k'}, 17), nil); !errors.Is(err, ctypes.ErrTooLarge) {
		t.Errorf("a 17-byte key: %v", err)
	}
	if err := m.Set([]byte("k"), bytes.Repeat([]byte{'v'}, 33)); !errors.Is(err, ctypes.ErrTooLarge) {
		t.Errorf("a 33-byte value: %v", err)
	}
	if err := m.Set(nil, nil); !errors.Is(err, ctypes.ErrTooLarge) {
		t.Errorf("an empty key: %v", err)
	}
	full := 0
	for i := range 200 {
		if err := m.Set(fmt.Appendf(nil, "more-%d", i), nil); errors.Is(err, ctypes.ErrFull) {
			full++
		}
	}
	if full == 0 || m.Len() > m.Cap() {
		t.Fatalf("200 more keys into 64 slots: %d ErrFull, Len %d", full, m.Len())
	}
	o, err := ctypes.OpenMap(m.Segment().Name())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := o.Get([]byte("counter"), nil); !ok || v[0] != 1 {
		t.Fatal("a second handle does not see the map")
	}
	_ = o.Close()
}

type mapArgs struct {
	M      *ctypes.Map
	Me     int
	Ops    int
	Seed   uint64
	Result *ctypes.RawArray[int64] // per process: entries its model holds at the end
	Go     *sem.SharedEvent
}

// mapWorker does random sets, gets and deletes on keys of its own (worker Me), checking every
// Get against a model, and reads the other workers' keys (whatever it finds must be
// well-formed). At the end it checks its keys against the model.
var mapWorker = procs.Entry("ctypes.mapWorker", func(ctx context.Context, a mapArgs) error {
	if a.Go != nil {
		if err := a.Go.WaitContext(ctx); err != nil {
			return err
		}
	}
	r := rand.New(rand.NewPCG(a.Seed, uint64(a.Me)))
	model := map[string]string{}
	var buf []byte
	for i := range a.Ops {
		k := fmt.Sprintf("w%d-k%d", a.Me, r.IntN(200))
		switch r.IntN(4) {
		case 0, 1:
			v := fmt.Sprintf("%s=%d", k, i)
			if err := a.M.Set([]byte(k), []byte(v)); err != nil {
				return err
			}
			model[k] = v
		case 2:
			ok, err := a.M.Delete([]byte(k))
			if err != nil {
				return err
			}
			if _, want := model[k]; ok != want {
				return fmt.Errorf("Delete(%s) = %v, the model says %v", k, ok, want)
			}
			delete(model, k)
		case 3:
			other := fmt.Sprintf("w%d-k%d", r.IntN(3), r.IntN(200))
			v, ok, err := a.M.Get([]byte(other), buf)
			if err != nil {
				return err
			}
			if ok && !bytes.HasPrefix(v, []byte(other+"=")) {
				return fmt.Errorf("Get(%s) = %q: not its own value", other, v)
			}
			buf = v
		}
	}
	for k, want := range model {
		v, ok, err := a.M.Get([]byte(k), nil)
		if err != nil || !ok || string(v) != want {
			return fmt.Errorf("at the end, Get(%s) = %q %v %v, the model says %q", k, v, ok, err, want)
		}
	}
	a.Result.Slice()[a.Me] = int64(len(model))
	return nil
})

// Three processes at once, each on keys of its own against a model and reading the others':
// every answer agrees with the models, and Len is the sum of what they hold.
func TestMapThreeProcessesAgainstModels(t *testing.T) {
	m, err := ctypes.NewMap(ctypes.MapConfig{Capacity: 4096, KeyMax: 16, ValueMax: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := ctypes.NewRawArray[int64](3)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	start, err := sem.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer start.Close()
	ps := testmain.StartN(t, mapWorker, 3, func(i int) mapArgs {
		return mapArgs{M: m, Me: i, Ops: 50_000, Seed: 7, Result: res, Go: start}
	})
	time.Sleep(30 * time.Millisecond)
	_ = start.Set()
	testmain.WaitAll(t, ps...)
	s := res.Slice()
	if want := int(s[0] + s[1] + s[2]); m.Len() != want {
		t.Fatalf("Len %d, the models hold %d", m.Len(), want)
	}
}

type churnArgs struct{ M *ctypes.Map }

// churn sets random keys to values that carry their own key and a checksum, until killed.
var churn = procs.Entry("ctypes.churn", func(ctx context.Context, a churnArgs) error {
	for i := 0; ; i++ {
		k := fmt.Appendf(nil, "k%d", rand.IntN(500))
		if rand.IntN(5) == 0 {
			if _, err := a.M.Delete(k); err != nil {
				return err
			}
			continue
		}
		if err := a.M.Set(k, wellFormed(k, i)); err != nil {
			return err
		}
	}
})

// wellFormed is a value that says which key it belongs to, with a checksum over both.
func wellFormed(k []byte, i int) []byte {
	v := fmt.Appendf(nil, "%s:%d:", k, i)
	return binary.LittleEndian.AppendUint32(v, crc(v))
}

func crc(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

func checkWellFormed(k, v []byte) error {
	if len(v) < 4 || !bytes.HasPrefix(v, append(append([]byte{}, k...), ':')) ||
		binary.LittleEndian.Uint32(v[len(v)-4:]) != crc(v[:len(v)-4]) {
		return fmt.Errorf("key %q holds %q: torn or misplaced", k, v)
	}
	return nil
}

// A writer killed at random moments, holding a stripe's lock or not, mid-write or not: the
// next user repairs the stripe; every entry left is well-formed, Len agrees with Range, and the
// map goes on working.
func TestFaultMapWriterKilled(t *testing.T) {
	m, err := ctypes.NewMap(ctypes.MapConfig{Capacity: 1024, KeyMax: 8, ValueMax: 32, Stripes: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range testmain.FaultRuns() {
		p, err := churn.Start(t.Context(), churnArgs{M: m})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20_000+rand.IntN(30_000)) * time.Microsecond)
		_ = p.Kill()
		_ = p.Join()
		// Writing to every key touches every stripe: a dead holder's stripe is repaired here.
		for k := range 500 {
			key := fmt.Appendf(nil, "k%d", k)
			if k%3 == 0 {
				if err := m.Set(key, wellFormed(key, -i)); err != nil {
					t.Fatalf("run %d: Set after the kill: %v", i, err)
				}
			}
			if v, ok, err := m.Get(key, nil); err != nil {
				t.Fatalf("run %d: Get after the kill: %v", i, err)
			} else if ok {
				if err := checkWellFormed(key, v); err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
			}
		}
		n := 0
		for k, v := range m.Range() {
			if err := checkWellFormed(k, v); err != nil {
				t.Fatalf("run %d: Range: %v", i, err)
			}
			n++
		}
		if n != m.Len() {
			t.Fatalf("run %d: Range has %d entries, Len says %d", i, n, m.Len())
		}
	}
}

type point struct{ X, Y float64 }

// map[int64]Point ports with no encoding.
func TestMapOf(t *testing.T) {
	m, err := ctypes.NewMapOf[int64, point](ctypes.MapConfig{Capacity: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range int64(100) {
		if err := m.Set(i, point{float64(i), -float64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if p, ok, err := m.Get(42); err != nil || !ok || p != (point{42, -42}) {
		t.Fatalf("Get(42): %v %v %v", p, ok, err)
	}
	if err := m.Update(42, func(p point, ok bool) (point, bool) { p.X++; return p, true }); err != nil {
		t.Fatal(err)
	}
	if p, _, _ := m.Get(42); p.X != 43 {
		t.Fatalf("after Update: %v", p)
	}
	n := 0
	for k, v := range m.Range() {
		if v.Y != -float64(k) {
			t.Fatalf("Range: %d → %v", k, v)
		}
		n++
	}
	if n != 100 || m.Len() != 100 {
		t.Fatalf("Range %d, Len %d", n, m.Len())
	}
	if _, err := ctypes.AsMapOf[int32, point](m.Map()); !errors.Is(err, ctypes.ErrType) {
		t.Fatalf("viewed with another key type: %v", err)
	}
	if _, err := ctypes.NewMapOf[string, int64](ctypes.MapConfig{}); !errors.Is(err, ctypes.ErrInvalid) {
		t.Fatalf("a string key: %v", err)
	}
}

// Manager().dict() without a server process.
func ExampleNewMap() {
	m, err := ctypes.NewMap(ctypes.MapConfig{Capacity: 1024, KeyMax: 16, ValueMax: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	_ = m.Set([]byte("job-7"), []byte("done"))
	v, ok, _ := m.Get([]byte("job-7"), nil)
	fmt.Println(string(v), ok, m.Len())
	// Output: done true 1
}
