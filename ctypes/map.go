package ctypes

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkit/shmkit/internal/object"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

// A Map is a fixed-capacity hash table of byte-string keys and values in shared memory: the
// fast answer to Python's Manager().dict(), with no server process. Any number of processes
// Get, Set, Delete and Range at once.
//
//	  0  header line: capacity u64, keyMax u32, valMax u32, stripes u32     set once
//	128  stripes × 64 bytes: robust sem.Mutex (8), count u32 (entries)      writers, under the lock
//	...  slots, stride = align8(24 + keyMax + valMax):
//	        0  version u32  even: stable; odd: a writer is changing the slot   (seqlock)
//	        4  state   u32  0 empty, 1 used, 2 deleted (a tombstone)
//	        8  hash    u64  xxhash64 of the key
//	       16  klen u32, vlen u32
//	       24  key (keyMax bytes), then value (valMax bytes)
//
// The slots are cut into stripes of capacity/stripes slots, each with its own lock: a key's
// hash picks its stripe, and linear probing stays inside it, so a stripe's lock covers every
// slot its keys can occupy. Writers (Set, Delete, Update) take that lock; readers (Get,
// Range) take none: they copy a slot between two reads of its version and retry if it moved
// or was odd (a seqlock). A writer killed mid-write leaves its stripe's lock with a dead owner
// and a slot with an odd version: the next process to lock the stripe (a writer, or a reader
// that found the slot odd for too long) gets sem.ErrOwnerDead, repairs the stripe (the torn
// slot becomes a tombstone: that one write is lost, nothing else is; the count is recounted),
// and marks the lock consistent. A key's stripe fills on its own: ErrFull can come before the
// whole map is full.
type Map struct {
	object.Handle
	seg            *shm.Segment
	capacity, per  int // slots, slots per stripe
	keyMax, valMax int
	stride         int
	stripes        []mapStripe
	slots          []byte
}

type mapStripe struct {
	mu    sem.Mutex
	count uint32
	_     [64 - 12]byte
}

const (
	mapKind     = "ctypes.Map"
	mapHeader   = 128
	slotHead    = 24
	slotEmpty   = 0
	slotUsed    = 1
	slotDeleted = 2
	// MaxMapKey and MaxMapValue bound a Map's keys and values.
	MaxMapKey   = 1 << 16
	MaxMapValue = 1 << 20
)

var _ [64 - unsafe.Sizeof(mapStripe{})]struct{}

func mapLayout(capacity, stripes, keyMax, valMax int) string {
	return fmt.Sprintf("ctypes.Map/v1 cap=%d stripes=%d key=%d val=%d", capacity, stripes, keyMax, valMax)
}

// A MapConfig sizes a Map: fixed when it is made.
type MapConfig struct {
	Capacity int // entries (rounded up to a multiple of Stripes); default 65536
	KeyMax   int // longest key in bytes; default 64
	ValueMax int // longest value in bytes; default 256
	Stripes  int // independent locks; default 64, fewer for a small map (64 slots each at least)
}

func (c MapConfig) withDefaults() (MapConfig, error) {
	if c.Capacity == 0 {
		c.Capacity = 1 << 16
	}
	if c.KeyMax == 0 {
		c.KeyMax = 64
	}
	if c.ValueMax == 0 {
		c.ValueMax = 256
	}
	if c.Stripes == 0 {
		// Enough slots per stripe that a stripe fills with the map, not long before it.
		c.Stripes = max(1, min(64, c.Capacity/64))
	}
	switch {
	case c.Capacity < 1 || c.Capacity > 1<<32:
		return c, fmt.Errorf("%w: map capacity %d", ErrInvalid, c.Capacity)
	case c.KeyMax < 1 || c.KeyMax > MaxMapKey || c.ValueMax < 0 || c.ValueMax > MaxMapValue:
		return c, fmt.Errorf("%w: keys of up to %d bytes, values of up to %d", ErrInvalid, c.KeyMax, c.ValueMax)
	case c.Stripes < 1 || c.Stripes > c.Capacity:
		return c, fmt.Errorf("%w: %d stripes for %d entries", ErrInvalid, c.Stripes, c.Capacity)
	}
	c.Capacity = (c.Capacity + c.Stripes - 1) / c.Stripes * c.Stripes
	return c, nil
}

// mapStride is a slot's size: the key and value areas are each whole 8-byte words, so both
// start on a word boundary (see seq_race.go).
func mapStride(keyMax, valMax int) int { return slotHead + words(keyMax) + words(valMax) }

func words(n int) int { return (n + 7) &^ 7 }

// mapSpec is the object spec of a Map made with c (its defaults filled in).
func mapSpec(c MapConfig) (object.Spec, error) {
	c, err := c.withDefaults()
	if err != nil {
		return object.Spec{}, err
	}
	size := int64(mapHeader) + int64(c.Stripes)*64 + int64(c.Capacity)*int64(mapStride(c.KeyMax, c.ValueMax))
	if size > shm.MaxSize {
		return object.Spec{}, fmt.Errorf("%w: a map of %d bytes", ErrInvalid, size)
	}
	return object.Spec{Kind: mapKind, Layout: mapLayout(c.Capacity, c.Stripes, c.KeyMax, c.ValueMax), Size: int(size),
		Variable: true, Init: func(b []byte) error {
			le := binary.LittleEndian
			le.PutUint64(b[0:], uint64(c.Capacity))
			le.PutUint32(b[8:], uint32(c.KeyMax))
			le.PutUint32(b[12:], uint32(c.ValueMax))
			le.PutUint32(b[16:], uint32(c.Stripes))
			return nil
		}}, nil
}

// NewMap makes an anonymous Map.
func NewMap(c MapConfig, opts ...shm.Option) (*Map, error) { return makeMap("", c, opts) }

// CreateMap makes the Map called name; shm.ErrExist if the name is taken.
func CreateMap(name string, c MapConfig, opts ...shm.Option) (*Map, error) {
	if err := shm.ValidateCreateName(name); err != nil {
		return nil, err
	}
	return makeMap(name, c, opts)
}

// OpenMap attaches the Map called name (its sizes are the creator's).
func OpenMap(name string, opts ...shm.Option) (*Map, error) {
	seg, err := object.Open(object.Spec{Kind: mapKind, Variable: true}, name, opts)
	if err != nil {
		return nil, err
	}
	return attachOwnedMap(seg)
}

// OpenOrCreateMap attaches the Map called name, or makes it with c.
func OpenOrCreateMap(name string, c MapConfig, opts ...shm.Option) (*Map, error) {
	sp, err := mapSpec(c)
	if err != nil {
		return nil, err
	}
	seg, _, err := object.OpenOrCreate(sp, name, opts)
	if err != nil {
		return nil, err
	}
	return attachOwnedMap(seg)
}

func makeMap(name string, c MapConfig, opts []shm.Option) (*Map, error) {
	sp, err := mapSpec(c)
	if err != nil {
		return nil, err
	}
	seg, err := object.Make(sp, name, opts)
	if err != nil {
		return nil, err
	}
	return attachOwnedMap(seg)
}

func attachOwnedMap(seg *shm.Segment) (*Map, error) {
	m, err := attachMap(seg)
	if err != nil {
		_ = seg.Close()
	}
	return m, err
}

// attachMap checks the header against the segment before trusting it.
func attachMap(seg *shm.Segment) (*Map, error) {
	b := seg.Bytes()
	if len(b) < mapHeader {
		return nil, fmt.Errorf("%w: %d-byte map", ErrCorrupt, len(b))
	}
	le := binary.LittleEndian
	capacity, keyMax, valMax, stripes := le.Uint64(b), int(le.Uint32(b[8:])), int(le.Uint32(b[12:])), int(le.Uint32(b[16:]))
	if capacity < 1 || capacity > 1<<32 || stripes < 1 || capacity%uint64(stripes) != 0 || keyMax < 1 || keyMax > MaxMapKey || valMax > MaxMapValue ||
		int64(len(b)) != int64(mapHeader)+int64(stripes)*64+int64(capacity)*int64(mapStride(keyMax, valMax)) {
		return nil, fmt.Errorf("%w: map of %d slots, %d stripes in %d bytes", ErrCorrupt, capacity, stripes, len(b))
	}
	if seg.Fingerprint() != shm.Fingerprint(mapLayout(int(capacity), stripes, keyMax, valMax)) {
		return nil, fmt.Errorf("%w: not %s", shm.ErrFingerprint, mapLayout(int(capacity), stripes, keyMax, valMax))
	}
	m := &Map{seg: seg, capacity: int(capacity), per: int(capacity) / stripes, keyMax: keyMax, valMax: valMax,
		stride: mapStride(keyMax, valMax)}
	// Sound: the stripes start 128 bytes into a 128-byte aligned payload, 64 bytes each.
	m.stripes = unsafe.Slice((*mapStripe)(unsafe.Pointer(&b[mapHeader])), stripes)
	m.slots = b[mapHeader+stripes*64:]
	m.Bind(seg)
	return m, nil
}

// slot returns the fixed words and the data area of slot i.
func (m *Map) slot(i int) (version, state *uint32, hash *uint64, lens *uint64, data []byte) {
	b := m.slots[i*m.stride : (i+1)*m.stride : (i+1)*m.stride]
	// Sound: every slot starts at a multiple of 8 in an aligned region.
	return (*uint32)(unsafe.Pointer(&b[0])), (*uint32)(unsafe.Pointer(&b[4])),
		(*uint64)(unsafe.Pointer(&b[8])), (*uint64)(unsafe.Pointer(&b[16])), b[slotHead:]
}

func (m *Map) home(key []byte) (h uint64, stripe, first int) {
	h = xxhash.Sum64(key)
	stripe = int(h % uint64(len(m.stripes)))
	return h, stripe, stripe*m.per + int((h/uint64(len(m.stripes)))%uint64(m.per))
}

// next is the probe after slot i inside its stripe.
func (m *Map) next(stripe, i int) int {
	if i+1 == (stripe+1)*m.per {
		return stripe * m.per
	}
	return i + 1
}

func (m *Map) check(key, val []byte, withVal bool) error {
	switch {
	case m.Closed():
		return ErrClosed
	case len(key) == 0 || len(key) > m.keyMax:
		return fmt.Errorf("%w: a %d-byte key (keys are 1 to %d bytes)", ErrTooLarge, len(key), m.keyMax)
	case withVal && len(val) > m.valMax:
		return fmt.Errorf("%w: a %d-byte value (values are up to %d bytes)", ErrTooLarge, len(val), m.valMax)
	}
	return nil
}

// Get copies the value of key into buf (reusing its storage); ok reports whether key is there.
// It takes no lock.
func (m *Map) Get(key, buf []byte) (val []byte, ok bool, err error) {
	if err := m.check(key, nil, false); err != nil {
		return buf[:0], false, err
	}
	h, stripe, i := m.home(key)
	for range m.per {
		version, state, hash, lens, data := m.slot(i)
		for spins := 0; ; spins++ {
			v1 := atomic.LoadUint32(version)
			if v1&1 != 0 { // a writer is in the slot
				if spins > 1000 {
					if err := m.waitStripe(stripe); err != nil {
						return buf[:0], false, err
					}
					spins = 0
				}
				continue
			}
			st := atomic.LoadUint32(state)
			if st == slotEmpty {
				if atomic.LoadUint32(version) == v1 {
					return buf[:0], false, nil
				}
				continue
			}
			found := false
			if st == slotUsed && atomic.LoadUint64(hash) == h {
				l := atomic.LoadUint64(lens)
				kl, vl := int(uint32(l)), int(l>>32)
				if kl == len(key) && vl <= m.valMax && m.keyIs(data, key) {
					val = m.loadValue(buf, data, vl)
					found = true
				}
			}
			if atomic.LoadUint32(version) != v1 {
				continue // the slot moved under the copy: read it again
			}
			if found {
				return val, true, nil
			}
			break
		}
		i = m.next(stripe, i)
	}
	return buf[:0], false, nil
}

// keyIs compares the key stored in a slot's data with key (a racy read under a seqlock: the
// caller checks the version after).
func (m *Map) keyIs(data, key []byte) bool {
	var scratch [64]byte
	k := scratch[:0]
	if words(len(key)) > len(scratch) {
		k = make([]byte, 0, words(len(key)))
	}
	k = k[:words(len(key))]
	loadBytes(k, data[:words(len(key))])
	return bytes.Equal(k[:len(key)], key)
}

// loadValue copies a slot's value of vl bytes into buf.
func (m *Map) loadValue(buf, data []byte, vl int) []byte {
	n := words(vl)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	loadBytes(buf, data[words(m.keyMax):words(m.keyMax)+n])
	return buf[:vl]
}

// waitStripe waits for the writer of a stripe: it takes and releases the lock, which repairs
// the stripe if that writer died.
func (m *Map) waitStripe(stripe int) error {
	if err := m.lock(context.Background(), stripe); err != nil {
		return err
	}
	return m.stripes[stripe].mu.Unlock()
}

// lock takes a stripe's lock, repairing the stripe if its last holder died.
func (m *Map) lock(ctx context.Context, stripe int) error {
	mu := &m.stripes[stripe].mu
	err := mu.LockContext(ctx)
	if err == sem.ErrOwnerDead {
		m.repair(stripe)
		err = mu.Consistent()
	}
	return err
}

// repair makes a stripe whose writer died consistent: a slot left mid-write (odd version) is
// turned into a tombstone, and the count is taken again. The caller holds the lock.
func (m *Map) repair(stripe int) {
	n := uint32(0)
	for i := stripe * m.per; i < (stripe+1)*m.per; i++ {
		version, state, _, _, _ := m.slot(i)
		if v := atomic.LoadUint32(version); v&1 != 0 {
			atomic.StoreUint32(state, slotDeleted)
			atomic.StoreUint32(version, v+1)
		}
		if atomic.LoadUint32(state) == slotUsed {
			n++
		}
	}
	atomic.StoreUint32(&m.stripes[stripe].count, n)
}

// Set stores val under key. ErrTooLarge for a key or value beyond the map's sizes, ErrFull when
// the key's stripe has no free slot.
func (m *Map) Set(key, val []byte) error {
	if err := m.check(key, val, true); err != nil {
		return err
	}
	return m.update(key, func([]byte, bool) ([]byte, bool) { return val, true })
}

// Delete removes key; ok reports whether it was there.
func (m *Map) Delete(key []byte) (ok bool, err error) {
	if err := m.check(key, nil, false); err != nil {
		return false, err
	}
	err = m.update(key, func(_ []byte, found bool) ([]byte, bool) { ok = found; return nil, false })
	return ok, err
}

// Update runs fn with key's current value (and whether there is one) under the key's stripe
// lock, and stores what fn returns, or deletes the key if keep is false: a read-modify-write
// no other process can interleave. fn must not call the Map.
func (m *Map) Update(key []byte, fn func(old []byte, ok bool) (val []byte, keep bool)) error {
	if err := m.check(key, nil, false); err != nil {
		return err
	}
	return m.update(key, fn)
}

func (m *Map) update(key []byte, fn func(old []byte, ok bool) ([]byte, bool)) error {
	h, stripe, i := m.home(key)
	if err := m.lock(context.Background(), stripe); err != nil {
		return err
	}
	defer m.stripes[stripe].mu.Unlock()
	free := -1 // the first tombstone or empty slot on the probe: where a new key goes
	at := -1
	for range m.per {
		_, state, hash, lens, data := m.slot(i)
		st := atomic.LoadUint32(state)
		if st == slotEmpty {
			if free < 0 {
				free = i
			}
			break
		}
		if st == slotDeleted && free < 0 {
			free = i
		}
		if st == slotUsed && atomic.LoadUint64(hash) == h {
			l := atomic.LoadUint64(lens)
			if kl := int(uint32(l)); kl == len(key) && bytes.Equal(data[:kl], key) { // under the lock: no writer
				at = i
				break
			}
		}
		i = m.next(stripe, i)
	}
	var old []byte
	if at >= 0 {
		_, _, _, lens, data := m.slot(at)
		vl := int(atomic.LoadUint64(lens) >> 32)
		old = data[words(m.keyMax) : words(m.keyMax)+vl : words(m.keyMax)+vl]
	}
	val, keep := fn(old, at >= 0)
	switch {
	case !keep && at < 0:
		return nil
	case !keep:
		m.write(at, func(state *uint32, _ *uint64, _ *uint64, _ []byte) { atomic.StoreUint32(state, slotDeleted) })
		atomic.AddUint32(&m.stripes[stripe].count, ^uint32(0))
		return nil
	case len(val) > m.valMax:
		return fmt.Errorf("%w: a %d-byte value (values are up to %d bytes)", ErrTooLarge, len(val), m.valMax)
	case at < 0 && free < 0:
		return fmt.Errorf("%w: the key's stripe (%d slots) is full", ErrFull, m.per)
	}
	target := at
	if at < 0 {
		target = free
		atomic.AddUint32(&m.stripes[stripe].count, 1)
	}
	m.write(target, func(state *uint32, hash *uint64, lens *uint64, data []byte) {
		storeBytes(data, key)
		storeBytes(data[words(m.keyMax):], val)
		atomic.StoreUint64(hash, h)
		atomic.StoreUint64(lens, uint64(len(key))|uint64(len(val))<<32)
		atomic.StoreUint32(state, slotUsed)
	})
	return nil
}

// write changes slot i inside the seqlock: odd version, the change, even version. Readers that
// overlap it see the version move and read again.
func (m *Map) write(i int, change func(state *uint32, hash, lens *uint64, data []byte)) {
	version, state, hash, lens, data := m.slot(i)
	v := atomic.LoadUint32(version)
	atomic.StoreUint32(version, v+1)
	change(state, hash, lens, data)
	atomic.StoreUint32(version, v+2)
}

// Len returns the number of entries (a snapshot: the sum of the stripes' counts).
func (m *Map) Len() int {
	if m.Closed() {
		return 0
	}
	n := 0
	for i := range m.stripes {
		n += int(atomic.LoadUint32(&m.stripes[i].count))
	}
	return n
}

// Cap returns the number of slots.
func (m *Map) Cap() int { return m.capacity }

// Range yields a copy of every entry, taking no lock; entries set or deleted while it runs may
// or may not be seen, each at most once.
func (m *Map) Range() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		if m.Closed() {
			return
		}
		for i := range m.capacity {
			version, state, _, lens, data := m.slot(i)
			for {
				v1 := atomic.LoadUint32(version)
				if v1&1 != 0 {
					continue
				}
				if atomic.LoadUint32(state) != slotUsed {
					break
				}
				l := atomic.LoadUint64(lens)
				kl, vl := int(uint32(l)), int(l>>32)
				if kl > m.keyMax || vl > m.valMax {
					continue
				}
				k := make([]byte, words(kl))
				loadBytes(k, data[:words(kl)])
				v := m.loadValue(nil, data, vl)
				k = k[:kl]
				if atomic.LoadUint32(version) != v1 {
					continue
				}
				if !yield(k, v) {
					return
				}
				break
			}
		}
	}
}

// Close detaches this process from the map.
func (m *Map) Close() error { return m.Handle.Close() }

const mapType = "ctypes.Map"

func init() {
	shm.Register(mapType, func(h shm.Handle) (shm.Shareable, error) { return attachMap(h.Segment) })
}

// ShareHandle implements shm.Shareable: a Map travels as its segment.
func (m *Map) ShareHandle() (shm.Handle, error) {
	if m.Closed() {
		return shm.Handle{}, ErrClosed
	}
	return shm.Handle{Type: mapType, Segment: m.seg}, nil
}
