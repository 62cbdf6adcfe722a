//go:build unix

package procs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Warm spares: Go cannot fork, so a child costs an exec of the whole binary (a millisecond or
// more, most of it the runtime starting and the loader mapping the program). A spare is a child
// exec'd ahead of time that waits, idle, on a socket. Handing it an entry sends the launch spec
// down that socket, with the descriptors of anonymous segments attached (SCM_RIGHTS); it
// starts running the entry as soon as it reads them. This is Python's forkserver without
// fork: the work of starting is done before anyone waits for it.
//
// The trade-off: each idle spare is a process holding its memory (a few MiB of a Go
// runtime), and it runs the binary as it was when the spare started: replace the executable on
// disk and the spares run the old one until they are used up.

// spareEntry is the entry name a spare is exec'd with.
const spareEntry = "procs.spare"

type spare struct {
	p    *Process
	sock *os.File // the parent's end; the child's lifeline
}

// A spareSet keeps n spares ready, refilling in the background after each hand-off.
type spareSet struct {
	ctx     context.Context // bounds the spares' lives, and those of the children they become
	n       int
	mu      sync.Mutex
	idle    []*spare
	filling bool
	closed  bool
	wg      sync.WaitGroup
}

func newSpareSet(ctx context.Context, n int) *spareSet { return &spareSet{ctx: ctx, n: n} }

// refillDelay is how long a hand-off waits before its spare is replaced: the replacement's
// exec takes a core for several milliseconds, which the child just handed its entry needs more.
const refillDelay = 20 * time.Millisecond

// refill replaces a spare just handed off, after refillDelay.
func (s *spareSet) refill() { s.fillAfter(refillDelay) }

// fillAfter starts filling after d.
func (s *spareSet) fillAfter(d time.Duration) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1) // under mu, before close can set closed and Wait
	time.AfterFunc(d, func() {
		defer s.wg.Done()
		s.fill()
	})
}

// fill starts spares in the background until n are idle.
func (s *spareSet) fill() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.filling || s.closed || len(s.idle) >= s.n {
		return
	}
	s.filling = true
	s.wg.Go(func() {
		for failures := 0; failures < 3; {
			s.mu.Lock()
			done := s.closed || len(s.idle) >= s.n
			if done {
				s.filling = false
			}
			s.mu.Unlock()
			if done {
				return
			}
			sp, err := execSpare(s.ctx)
			if err != nil {
				failures++
				continue
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				sp.discard()
				continue
			}
			s.idle = append(s.idle, sp)
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.filling = false
		s.mu.Unlock()
	})
}

// take returns an idle spare that is still alive, or nil.
func (s *spareSet) take() *spare {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.idle) > 0 {
		sp := s.idle[0]
		s.idle = s.idle[1:]
		if sp.p.Alive() {
			return sp
		}
		sp.discard()
	}
	return nil
}

// start runs the entry with args in a spare if one is ready (refilling), or execs a child.
func (s *spareSet) start(ctx context.Context, entryName string, args []reflectValue) (*Process, error) {
	if sp := s.take(); sp != nil {
		s.refill()
		p, err := startIn(ctx, sp, entryName, args)
		if err == nil || errors.Is(err, ErrEncode) {
			return p, err
		}
	}
	return startEntry(ctx, entryName, nil, args...)
}

// startIn hands the entry with args to the spare sp (which is used up, whatever happens).
func startIn(ctx context.Context, sp *spare, entryName string, args []reflectValue) (*Process, error) {
	sh, spec, err := encodeSpec(args)
	if err != nil {
		sp.discard()
		return nil, err
	}
	defer sh.closeFiles()
	name := fmt.Sprintf("%s-%d", entryName, childSeq.Add(1))
	return sp.handOff(ctx, entryName, name, spec, sh, DefaultGracePeriod)
}

// close ends the idle spares and waits for any being started.
func (s *spareSet) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closed = true
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, sp := range idle {
		sp.discard()
	}
	s.wg.Wait()
}

// discard ends an idle spare: its socket closes, and it exits (SIGKILL if it does not).
func (sp *spare) discard() {
	_ = sp.p.Kill()
	_ = sp.p.Join()
}

// execSpare starts a spare: a daemon child of this binary waiting on a socket.
func execSpare(ctx context.Context) (*spare, error) {
	fds, err := socketpair()
	if err != nil {
		return nil, fmt.Errorf("procs: socketpair: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "spare"), os.NewFile(uintptr(fds[1]), "spare-child")
	statusR, statusW, err := os.Pipe()
	if err != nil {
		_, _ = mine.Close(), theirs.Close()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, selfExe())
	cmd.Args = []string{os.Args[0]}
	childEnds := []*os.File{theirs, statusW}
	cfds := passFiles(cmd, childEnds)
	name := fmt.Sprintf("procs-spare-%d", childSeq.Add(1))
	cmd.Env = childEnv(envEntry+"="+spareEntry, envName+"="+name, envPipes+"="+joinFDs(cfds), envDaemon+"=1")
	p, err := start(cmd, name, newOptions(nil), childEnds, statusR, mine)
	if err != nil {
		_ = mine.Close()
		return nil, err
	}
	return &spare{p: p, sock: mine}, nil
}

// handOff sends the spare its entry, name and spec, with the anonymous segments' descriptors.
// ctx bounds the child from now on, as it bounds an exec'd one.
func (sp *spare) handOff(ctx context.Context, entryName, name string, spec []byte, sh *sharer, grace time.Duration) (*Process, error) {
	p := sp.p
	if err := sh.expect(p.pid); err != nil {
		sp.discard()
		return nil, fmt.Errorf("%w: %v", ErrEncode, err)
	}
	p.name.Store(&name)
	msg := binary.AppendUvarint(nil, uint64(len(entryName)))
	msg = append(msg, entryName...)
	msg = binary.AppendUvarint(msg, uint64(len(name)))
	msg = append(msg, name...)
	msg = binary.AppendUvarint(msg, uint64(len(spec)))
	msg = append(msg, spec...)
	fds := make([]int, len(sh.files))
	for i, f := range sh.files {
		fds[i] = int(f.Fd())
	}
	if err := sendWithRights(sp.sock, msg, fds); err != nil {
		sp.discard()
		return nil, fmt.Errorf("procs: hand-off to spare pid %d: %w", p.pid, err)
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			_ = p.Terminate()
			select {
			case <-p.done:
			case <-time.After(grace):
				_ = p.Kill()
			}
		})
		go func() {
			<-p.done
			stop()
		}()
	}
	return p, nil
}

// readable reports whether f has something to read (or is at end-of-file) now.
func readable(f *os.File) bool {
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

// sendWithRights writes msg to the socket, the descriptors riding with its first byte.
func sendWithRights(f *os.File, msg []byte, fds []int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		var oob []byte
		if len(fds) > 0 {
			oob = unix.UnixRights(fds...)
		}
		for len(msg) > 0 {
			n, err := unix.SendmsgN(int(fd), msg, oob, nil, msgNoSignal)
			if err == unix.EINTR {
				continue
			}
			if err == unix.EAGAIN {
				return false // wait until writable, then go on
			}
			if err != nil {
				werr = err
				return true
			}
			msg, oob = msg[n:], nil
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}

// maxHandOffFDs bounds the descriptors one hand-off carries (the kernel's own limit is 253).
const maxHandOffFDs = 250

// receiveHandOff is the spare's side: it waits for its entry. io.EOF means the parent let it
// go (or died) without one.
func receiveHandOff(f *os.File) (entryName, name string, spec []byte, files []int, err error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*maxHandOffFDs))
	var n, oobn int
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(f.Fd()), buf, oob, msgCmsgCloexec)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return "", "", nil, nil, err
	}
	if n == 0 {
		return "", "", nil, nil, io.EOF
	}
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return "", "", nil, nil, err
		}
		for i := range msgs {
			got, err := unix.ParseUnixRights(&msgs[i])
			if err != nil {
				return "", "", nil, nil, err
			}
			files = append(files, got...)
		}
	}
	r := io.MultiReader(bytes.NewReader(buf[:n]), f)
	field := func() ([]byte, error) {
		l, err := binary.ReadUvarint(byteReader{r})
		if err != nil {
			return nil, err
		}
		if l > 1<<30 {
			return nil, errors.New("a hand-off field beyond 1 GiB")
		}
		b := make([]byte, l)
		_, err = io.ReadFull(r, b)
		return b, err
	}
	var e, nm []byte
	if e, err = field(); err == nil {
		if nm, err = field(); err == nil {
			spec, err = field()
		}
	}
	if err != nil {
		return "", "", nil, nil, fmt.Errorf("hand-off: %w", err)
	}
	return string(e), string(nm), spec, files, nil
}
