package shm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/internal/pidinfo"
)

// MaxSize is the largest payload a segment may have: 1 TiB.
const MaxSize = 1 << 40

// DefaultTimeout is how long Open waits for a segment's creator to mark it ready.
const DefaultTimeout = 2 * time.Second

// populateLimit: segments up to this size are prefaulted (MAP_POPULATE) unless told otherwise,
// since they hold control words that every operation touches.
const populateLimit = 64 << 10

// An Option configures Create, Open, OpenFD or Anonymous.
type Option func(*config)

type config struct {
	kind        string
	fingerprint uint64
	checkFP     bool
	perm        fs.FileMode
	raw         bool
	trailer     bool
	size        int // the payload size asked for (Create, Anonymous)
	init        func(payload []byte) error
	timeout     time.Duration
	populate    int             // 0: by size, 1: always, -1: never
	ctx         context.Context // ends Open's wait early; nil: never
	settings    map[any]any     // for the constructors of objects built on segments (Setting)
	scope       *Scope          // In
}

func newConfig(opts []Option) *config {
	c := &config{perm: 0o600, timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Setting returns an Option that carries a value for the constructor of an object built on a
// segment, such as a ring's capacity (ring.Capacity is Setting with a key of ring's own), so
// that every constructor takes one list of Options. Segment functions ignore settings. Keys
// are compared as map keys: use an unexported type, as with context.WithValue.
func Setting(key, value any) Option {
	return func(c *config) {
		if c.settings == nil {
			c.settings = map[any]any{}
		}
		c.settings[key] = value
	}
}

// SettingOf returns the value the last Setting for key in opts carries, if it is a T.
func SettingOf[T any](opts []Option, key any) (T, bool) {
	v, ok := newConfig(opts).settings[key].(T)
	return v, ok
}

// Kind names what the payload holds, such as "ring.Queue" (at most 32 printable ASCII bytes).
// Create records it in the header; Open fails with ErrKind unless the segment has this kind.
func Kind(kind string) Option { return func(c *config) { c.kind = kind } }

// Layout gives the layout descriptor, such as "ring.Queue/v1 slots=1024 slot=64". Create
// records its Fingerprint; Open fails with ErrFingerprint unless the segment's matches.
func Layout(descriptor string) Option { return WithFingerprint(Fingerprint(descriptor)) }

// WithFingerprint is Layout for a fingerprint already computed, as a Ref carries.
func WithFingerprint(fp uint64) Option {
	return func(c *config) { c.fingerprint, c.checkFP = fp, true }
}

// Perm sets the permission bits of a named segment (default 0600; the umask does not apply).
func Perm(perm fs.FileMode) Option { return func(c *config) { c.perm = perm.Perm() } }

// Raw makes a segment with no header: the payload starts at offset 0 and the file is exactly
// the requested size, so other languages (Python's multiprocessing.shared_memory, C's shm_open)
// can map it. Open with Raw maps any file whole, without validation.
func Raw() Option { return func(c *config) { c.raw = true } }

// Trailer puts the header after the payload instead of before it: the payload starts at
// offset 0 of the file, so a file format with a header of its own at the start stays valid (a
// ctypes array segment is a .npy file numpy can load), and the shmkit header sits at the end of
// the file, on a 128-byte boundary. Open finds either placement by itself.
func Trailer() Option { return func(c *config) { c.trailer = true } }

// Init runs fn on the new payload before the segment is published as ready, so Open in
// another process never sees a half-initialised payload. If fn fails, Create removes the
// segment and returns fn's error.
func Init(fn func(payload []byte) error) Option { return func(c *config) { c.init = fn } }

// Timeout bounds how long Open waits for the creator to publish the segment (DefaultTimeout).
func Timeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Populate prefaults every page at map time (true) or never (false). By default segments up
// to 64 KiB are prefaulted and larger ones fault in on first touch.
func Populate(on bool) Option {
	return func(c *config) {
		c.populate = -1
		if on {
			c.populate = 1
		}
	}
}

// pause sleeps d between polls of a segment being created, or returns early with ctx's error.
func (c *config) pause(d time.Duration) error {
	if c.ctx == nil {
		time.Sleep(d)
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

func (c *config) shouldPopulate(n int64) bool {
	return c.populate == 1 || c.populate == 0 && n <= populateLimit
}

// A Segment is a mapped region of shared memory. Its methods may be called from several
// goroutines, but Close must not race with use of the memory Bytes returned: after Close the
// memory is unmapped and touching it faults.
type Segment struct {
	name    string // "" for anonymous segments
	raw     bool
	trailer bool // the header follows the payload (Trailer)
	kind    string
	fp      uint64
	mapping []byte // the whole mapping, header included
	payload []byte // mapping[HeaderSize:], or all of it when raw
	file    *file
	closed  atomic.Bool
	mu      sync.Mutex  // serialises Close and Unlink
	onClose *closeHooks // run before the unmap (see OnClose)
	cleanup runtime.Cleanup
}

// Create makes a new named segment with a payload of size bytes, zeroed, and maps it. It fails
// with ErrExist if the name is taken, ErrInvalidName or ErrInvalidSize for bad input, and
// ErrNoSpace (saying how much is free) if the shared-memory filesystem cannot hold it. The
// segment lives until Unlink or Remove, even after every process has closed it.
//
// A name holding a '*' is a pattern (as os.CreateTemp's): Create replaces the '*' with 10
// random characters, trying again while the name is taken, so unrelated processes can then
// open the segment by the name it reports (Name): CPython's SharedMemory(create=True) with no
// name. Every Create… of an object takes patterns too.
func Create(name string, size int, opts ...Option) (*Segment, error) {
	if IsPattern(name) {
		return createPattern(name, func(n string) (*Segment, error) { return Create(n, size, opts...) })
	}
	cfg := newConfig(opts)
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	total, err := fileSize(size, cfg)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	f, err := createFile(name, total, cfg)
	if err != nil {
		return nil, err
	}
	s, err := initSegment(f, name, total, 0, cfg)
	if err != nil {
		f.discard()
		_ = f.close()
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	// Published ready before it has a name: an Open that finds the name finds it whole.
	if err := f.publish(name); err != nil {
		s.mu.Lock()
		s.closed.Store(true)
		_ = s.release()
		s.mu.Unlock()
		return nil, err
	}
	return cfg.keep(s, true)
}

// OpenOrCreate opens the segment called name, or creates it with a payload of size bytes if
// the name is free; created reports which. Two processes racing on a fresh name get one
// segment. An existing segment with a payload smaller than size is ErrSize.
func OpenOrCreate(name string, size int, opts ...Option) (seg *Segment, created bool, err error) {
	for range 3 {
		seg, err = Create(name, size, opts...)
		if err == nil {
			return seg, true, nil
		}
		if !errors.Is(err, ErrExist) {
			return nil, false, err
		}
		seg, err = Open(name, opts...)
		if errors.Is(err, ErrNotExist) {
			continue // unlinked between the two: try again
		}
		if err == nil && seg.Size() < size {
			_ = seg.Close()
			return nil, false, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: the segment holds %d bytes, %d were asked for", ErrSize, seg.Size(), size)}
		}
		return seg, false, err
	}
	return nil, false, err
}

// Anonymous makes a segment with no name (a memfd on Linux). It is freed when the last process
// holding it closes it or exits; pass it to a child through procs, which hands over the fd.
func Anonymous(size int, opts ...Option) (*Segment, error) {
	cfg := newConfig(opts)
	total, err := fileSize(size, cfg)
	if err != nil {
		return nil, &fs.PathError{Op: "anonymous", Path: "", Err: err}
	}
	f, err := anonymousFile(total)
	if err != nil {
		return nil, err
	}
	s, err := initSegment(f, "", total, flagAnonymous, cfg)
	if err != nil {
		_ = f.close()
		return nil, &fs.PathError{Op: "anonymous", Path: "", Err: err}
	}
	return cfg.keep(s, false)
}

func fileSize(size int, cfg *config) (int64, error) {
	if size <= 0 || size > MaxSize {
		return 0, fmt.Errorf("%w: %d (want 1 to %d bytes)", ErrInvalidSize, size, int64(MaxSize))
	}
	if !validKind(cfg.kind) {
		return 0, fmt.Errorf("%w: %q is not up to %d printable ASCII bytes", ErrInvalidKind, cfg.kind, maxKindLen)
	}
	cfg.size = size
	if cfg.raw {
		return int64(size), nil
	}
	if cfg.trailer {
		return trailerAt(int64(size)) + HeaderSize, nil
	}
	return int64(size) + HeaderSize, nil
}

// trailerAt is where a trailing header starts: after the payload, on a 128-byte boundary.
func trailerAt(payload int64) int64 { return (payload + HeaderSize - 1) / HeaderSize * HeaderSize }

// split returns the header and the payload of a mapping: a leading header, or a trailing one
// (flagTrailer) after payloadSize bytes.
func split(m []byte, trailer bool, payloadSize int64) (hdr, payload []byte) {
	if trailer {
		at := trailerAt(payloadSize)
		return m[at : at+HeaderSize : at+HeaderSize], m[:payloadSize:payloadSize]
	}
	return m[:HeaderSize:HeaderSize], m[HeaderSize : HeaderSize+payloadSize : HeaderSize+payloadSize]
}

// initSegment maps a freshly sized file, writes the header, runs Init and publishes ready.
func initSegment(f *file, name string, total int64, flags uint32, cfg *config) (*Segment, error) {
	m, err := f.mmap(int(total), cfg.shouldPopulate(total))
	if err != nil {
		return nil, err
	}
	var hdr []byte
	payload := m
	if !cfg.raw {
		size := total - HeaderSize
		if cfg.trailer {
			flags |= flagTrailer
			size = int64(cfg.size)
		}
		hdr, payload = split(m, cfg.trailer, size)
	}
	s := newSegment(f, name, m, payload, cfg.raw)
	if !cfg.raw {
		pid, start := pidinfo.Self()
		h := header{
			Magic: magic, Version: headerVersion, HeaderSize: HeaderSize,
			PayloadSize: uint64(len(payload)), Fingerprint: cfg.fingerprint,
			CreatorPID: uint32(pid), Flags: flags, CreatorTime: start,
			Created: time.Now().UnixNano(),
		}
		copy(h.Kind[:], cfg.kind)
		h.encode(hdr)
		s.kind, s.fp, s.trailer = cfg.kind, cfg.fingerprint, cfg.trailer
	}
	if cfg.init != nil {
		if err := cfg.init(s.payload); err != nil {
			s.cleanup.Stop()
			unregister(s.payload)
			_ = unmap(m) // the caller closes the file
			return nil, err
		}
	}
	if !cfg.raw {
		publishReady(hdr)
	}
	return s, nil
}

func newSegment(f *file, name string, m, payload []byte, raw bool) *Segment {
	s := &Segment{name: name, raw: raw, mapping: m, file: f, payload: payload}
	s.onClose = &closeHooks{}
	s.cleanup = runtime.AddCleanup(s, resources.forget, resources{s.payload, f, s.onClose})
	register(s)
	return s
}

// resources is what a forgotten Segment's cleanup releases; it must not point back at the
// Segment. The mapping is not among them: see forget.
type resources struct {
	payload []byte
	file    *file
	hooks   *closeHooks
}

// forget is the garbage collector's safety net for a Segment nobody closed. It runs the
// OnClose hooks (the memory is mapped), drops the segment from Locate's registry and closes
// the file descriptor. It never unmaps: pointers and slices into
// shared memory (a *sem.Mutex from At, a slice from Bytes, a record from a Pipe's Next) are
// invisible to the garbage collector, so nothing can know that none is left, and unmapping
// under one would fault. A forgotten mapping stays until the process exits; Close frees it.
// The mapping holds the open file, and with it this process's flock: the segment still counts
// as attached (it is: its memory is mapped here), and turns stale when the process exits.
func (r resources) forget() {
	r.hooks.run()
	unregister(r.payload)
	_ = r.file.close()
}

// release frees the mapping and file without touching the name.
func (s *Segment) release() error {
	s.cleanup.Stop()
	s.onClose.run() // while the memory is still mapped
	unregister(s.payload)
	return errors.Join(unmap(s.mapping), s.file.close())
}

// Open maps an existing named segment. Unless Raw is given it waits (up to Timeout) for the
// creator to publish the segment, then checks magic, version, checksum, the size against the
// file's, and any Kind or Layout given; each failure is its own error (ErrBadMagic, ErrVersion,
// ErrCorrupt, ErrTruncated, ErrSize, ErrKind, ErrFingerprint, ErrNotReady). A missing name is
// ErrNotExist.
func Open(name string, opts ...Option) (*Segment, error) {
	return OpenContext(context.Background(), name, opts...)
}

// OpenContext is Open whose wait for the creator also ends, with ctx's error, when ctx does.
func OpenContext(ctx context.Context, name string, opts ...Option) (*Segment, error) {
	cfg := newConfig(opts)
	cfg.ctx = ctx
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	f, alone, err := openFile(name)
	if err != nil {
		return nil, err
	}
	s, err := attach(f, name, alone, cfg)
	if err != nil {
		_ = f.close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return cfg.keep(s, false)
}

// OpenFD maps the segment behind an inherited file descriptor (an anonymous segment passed by
// procs, or any shared-memory fd), validating it as Open does. The Segment owns fd from then
// on, on success or failure.
func OpenFD(fd uintptr, opts ...Option) (*Segment, error) {
	cfg := newConfig(opts)
	f, err := fileFromFD(fd)
	if err != nil {
		return nil, err
	}
	s, err := attach(f, "", true, cfg)
	if err != nil {
		_ = f.close()
		return nil, &fs.PathError{Op: "open", Path: fmt.Sprintf("fd %d", fd), Err: err}
	}
	return cfg.keep(s, false)
}

// attach validates and maps an opened file. alone says no other process held the segment when
// it was opened, so no creator can be mid-way and there is nothing to wait for.
func attach(f *file, name string, alone bool, cfg *config) (*Segment, error) {
	size, err := awaitSize(f, alone, cfg)
	if err != nil {
		return nil, err
	}
	m, err := f.mmap(int(size), cfg.shouldPopulate(size))
	if err != nil {
		return nil, err
	}
	if cfg.raw {
		return newSegment(f, name, m, m, true), nil
	}
	hdr := findHeader(m)
	h, err := awaitReady(hdr, alone, cfg)
	trailer := h.Flags&flagTrailer != 0
	if err == nil {
		err = checkHeader(&h, size, f.exactSize(), cfg)
	}
	if err != nil {
		_ = unmap(m)
		return nil, err
	}
	if want := int(fileLen(&h)); len(m) > want {
		m = m[:want:want]
	}
	_, payload := split(m, trailer, int64(h.PayloadSize))
	s := newSegment(f, name, m, payload, false)
	s.kind, s.fp, s.trailer = h.kind(), h.Fingerprint, trailer
	return s, nil
}

// findHeader returns where a mapping's header is: at the start, or, when the start is not a
// header, trailing (a Trailer segment): at the end of the file, or, where the system rounds a
// mapping up to whole pages (a Windows section), in the last 64 KiB, on a 128-byte boundary,
// where a header that parses says it trails a payload ending just there.
func findHeader(m []byte) []byte {
	if len(m) < HeaderSize || [8]byte(m[:8]) == magic {
		return m
	}
	for at := (len(m) - HeaderSize) &^ (HeaderSize - 1); at >= 0 && at >= len(m)-64<<10; at -= HeaderSize {
		t := m[at:]
		if [8]byte(t[:8]) != magic {
			continue
		}
		if h, err := parseHeader(t); err == nil && h.Flags&flagTrailer != 0 && trailerAt(int64(h.PayloadSize)) == int64(at) {
			return t
		}
	}
	return m
}

// fileLen is the file length a header describes.
func fileLen(h *header) int64 {
	if h.Flags&flagTrailer != 0 {
		return trailerAt(int64(h.PayloadSize)) + HeaderSize
	}
	return int64(h.PayloadSize) + HeaderSize
}

// awaitSize returns the file's size once it can hold a header (or anything, for Raw). A creator
// sizes its file right after creating it, so a short file is waited for only when someone else
// holds the segment.
func awaitSize(f *file, alone bool, cfg *config) (int64, error) {
	least := int64(HeaderSize)
	if cfg.raw {
		least = 1
	}
	deadline := time.Now().Add(cfg.timeout)
	for pause := 20 * time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
		size, err := f.size()
		if err != nil || size >= least {
			return size, err
		}
		if alone || time.Now().After(deadline) {
			return 0, fmt.Errorf("%w: %d bytes, a segment needs at least %d", ErrTruncated, size, least)
		}
		if err := cfg.pause(pause); err != nil {
			return 0, err
		}
	}
}

// awaitReady waits until the creator publishes the header, or dies, or the timeout passes.
func awaitReady(m []byte, alone bool, cfg *config) (header, error) {
	deadline := time.Now().Add(cfg.timeout)
	for pause := 20 * time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
		ready := loadState(m) == stateReady
		h, err := parseHeader(m)
		if ready || alone {
			if err == nil && !ready {
				err = fmt.Errorf("%w: creator pid %d left it initialising", ErrNotReady, h.CreatorPID)
			}
			return h, err
		}
		if err == nil && !pidinfo.Alive(int(h.CreatorPID), h.CreatorTime) {
			return h, fmt.Errorf("%w: creator pid %d died before publishing it", ErrNotReady, h.CreatorPID)
		}
		if time.Now().After(deadline) {
			if err != nil {
				return h, err
			}
			return h, fmt.Errorf("%w: still initialising after %v (creator pid %d)", ErrNotReady, cfg.timeout, h.CreatorPID)
		}
		if err := cfg.pause(pause); err != nil {
			return h, err
		}
	}
}

// checkHeader compares a parsed header with the file and the caller's expectations.
func checkHeader(h *header, size int64, exact bool, cfg *config) error {
	want := fileLen(h)
	switch {
	case size < want:
		return fmt.Errorf("%w: header says %d bytes, file has %d", ErrTruncated, want, size)
	case size > want && exact:
		return fmt.Errorf("%w: header says %d bytes, file has %d", ErrSize, want, size)
	case cfg.kind != "" && h.kind() != cfg.kind:
		return fmt.Errorf("%w: segment holds %q, want %q", ErrKind, h.kind(), cfg.kind)
	case cfg.checkFP && h.Fingerprint != cfg.fingerprint:
		return fmt.Errorf("%w: segment has %#016x, want %#016x", ErrFingerprint, h.Fingerprint, cfg.fingerprint)
	}
	return nil
}

// Bytes returns the payload: the memory every process attached to the segment shares. It is
// valid until Close. A Segment that becomes unreachable without Close has its file closed by
// the garbage collector (this process's hold on it ends), but its memory stays mapped, so a
// slice or pointer into it never dangles. After Close it returns nil.
func (s *Segment) Bytes() []byte {
	if s.closed.Load() {
		return nil
	}
	return s.payload
}

// Name returns the segment's name, or "" for an anonymous segment.
func (s *Segment) Name() string { return s.name }

// Size returns the payload size in bytes.
func (s *Segment) Size() int { return len(s.payload) }

// Kind returns the kind recorded in the header ("" for Raw segments and plain ones).
func (s *Segment) Kind() string { return s.kind }

// Fingerprint returns the layout fingerprint recorded in the header (0 if none).
func (s *Segment) Fingerprint() uint64 { return s.fp }

// PayloadOffset returns where the payload starts in the file: HeaderSize, or 0 for a Raw
// segment or one whose header trails (Trailer). Another program mapping the file by name
// (Python, C) finds the payload there.
func (s *Segment) PayloadOffset() int {
	if s.raw || s.trailer {
		return 0
	}
	return HeaderSize
}

// ID identifies the segment: the same in every process that maps it, and different for every
// segment made, so a process that is handed segments can tell one it has mapped already. It
// is the header's checksum, which covers the creator's pid and start time and the creation
// time; a raw segment has no header, and its ID is its name, hashed, or 0 if it has none. It is
// 0 after Close.
func (s *Segment) ID() uint64 {
	if s.closed.Load() {
		return 0
	}
	id, _ := s.identity().id()
	return id
}

// IsRaw reports whether the segment has no header.
func (s *Segment) IsRaw() bool { return s.raw }

// Fd returns the file descriptor (a HANDLE on Windows) behind the segment, for passing it to
// another process. It is valid until Close.
func (s *Segment) Fd() uintptr { return s.file.fd() }

// Close unmaps the segment and releases this process's hold on it. The segment itself lives on
// if it has a name (see Unlink). A second Close returns ErrClosed.
func (s *Segment) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return &fs.PathError{Op: "close", Path: s.name, Err: ErrClosed}
	}
	return s.release()
}

// Closed reports whether this process closed s (Close, or a Scope it belonged to).
func (s *Segment) Closed() bool { return s.closed.Load() }

// OnClose arranges for fn to run when this process closes s, or when the garbage collector
// releases a forgotten s, before the memory is unmapped, in the reverse order of registration.
// Objects living in s use it to detach from it: to leave the member list that tells other
// processes a death from a departure. fn must not refer to s (or the garbage collector could
// never release it); it does not run when the process dies. It reports false, and keeps
// nothing, if s is closed already.
func (s *Segment) OnClose(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false
	}
	s.onClose.add(fn)
	return true
}

// closeHooks are a segment's OnClose functions. The garbage collector's cleanup runs them too,
// so they live apart from the Segment (a cleanup must not reach the object it cleans up).
type closeHooks struct {
	mu  sync.Mutex
	fns []func()
}

func (h *closeHooks) add(fn func()) {
	h.mu.Lock()
	h.fns = append(h.fns, fn)
	h.mu.Unlock()
}

// run calls the hooks, last added first, once.
func (h *closeHooks) run() {
	if h == nil {
		return
	}
	h.mu.Lock()
	fns := h.fns
	h.fns = nil
	h.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// Unlink removes the segment's name so no new process can open it; processes that have it
// mapped keep it until they close it. Unlink removes the name only if it still refers to this
// segment (ErrNotExist otherwise). It works before or after Close, in either order (CPython's
// is close, then unlink). Anonymous segments have no name and Unlink returns nil.
func (s *Segment) Unlink() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.name == "" {
		return nil
	}
	return s.file.unlink(s.name)
}

// Remove removes the named segment, whoever made it. Processes that have it mapped keep it.
func Remove(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return removeName(name)
}

// String shows the segment as Python's SharedMemory repr does: its name and size (and kind).
func (s *Segment) String() string {
	name := s.name
	if name == "" {
		name = "anonymous"
	}
	state := ""
	if s.Closed() {
		state = ", closed"
	}
	if s.kind != "" {
		return fmt.Sprintf("shm.Segment(%s, %d bytes, %s%s)", name, len(s.payload), s.kind, state)
	}
	return fmt.Sprintf("shm.Segment(%s, %d bytes%s)", name, len(s.payload), state)
}
