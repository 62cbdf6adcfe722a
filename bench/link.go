package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// A link is how a kernel baseline's child reaches this process: a FIFO (os-pipe), a unix
// socket path or a TCP address. It travels in the child's argument.
type link struct {
	Impl string
	Up   string // child → parent: the FIFO's path, the socket's path or the TCP address
	Down string // parent → child, for os-pipe round trips: a second FIFO ("" otherwise)
}

// listener is this process's side of a link.
type listener struct {
	link
	ln  net.Listener
	dir string
}

// listen prepares a link for impl (os-pipe, unix-socket, tcp-loopback); duplex links carry
// messages both ways.
func listen(impl string, duplex bool) (*listener, error) {
	l := &listener{link: link{Impl: impl}}
	var err error
	switch impl {
	case OSPipe, UnixSocket:
		if l.dir, err = os.MkdirTemp("", "shmkit-bench-"); err != nil {
			return nil, err
		}
		l.Up = filepath.Join(l.dir, "up")
		if impl == UnixSocket {
			if l.ln, err = net.Listen("unix", l.Up); err != nil {
				err = unixSocketErr(err)
			}
			break
		}
		err = mkfifo(l.Up)
		if duplex && err == nil {
			l.Down = filepath.Join(l.dir, "down")
			err = mkfifo(l.Down)
		}
	case TCPLoopback:
		if l.ln, err = net.Listen("tcp", "127.0.0.1:0"); err == nil {
			l.Up = l.ln.Addr().String()
		}
	default:
		err = fmt.Errorf("no kernel link for %q", impl)
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *listener) Close() {
	if l.ln != nil {
		_ = l.ln.Close()
	}
	if l.dir != "" {
		_ = os.RemoveAll(l.dir)
	}
}

// accept returns this process's end, once the child has dialled. Both ends open the FIFOs in
// the same order (down, then up), since opening one waits for the other side.
func (l *listener) accept() (io.ReadWriteCloser, error) {
	if l.ln != nil {
		return l.ln.Accept()
	}
	return openFIFOs(l.Down, os.O_WRONLY, l.Up, os.O_RDONLY)
}

// dial returns the child's end.
func (k link) dial() (io.ReadWriteCloser, error) {
	switch k.Impl {
	case OSPipe:
		return openFIFOs(k.Down, os.O_RDONLY, k.Up, os.O_WRONLY)
	case UnixSocket:
		return net.Dial("unix", k.Up)
	case TCPLoopback:
		return net.Dial("tcp", k.Up)
	}
	return nil, fmt.Errorf("no kernel link for %q", k.Impl)
}

// openFIFOs opens down (if any) then up, and joins them into one end.
func openFIFOs(down string, downFlag int, up string, upFlag int) (io.ReadWriteCloser, error) {
	var p fifoPair
	if down != "" {
		f, err := os.OpenFile(down, downFlag, 0)
		if err != nil {
			return nil, err
		}
		p.set(f, downFlag)
	}
	f, err := os.OpenFile(up, upFlag, 0)
	if err != nil {
		_ = p.Close()
		return nil, err
	}
	p.set(f, upFlag)
	return p, nil
}

// fifoPair is an end made of a FIFO to read and one to write (either may be missing).
type fifoPair struct{ r, w *os.File }

func (f *fifoPair) set(file *os.File, flag int) {
	if flag == os.O_RDONLY {
		f.r = file
	} else {
		f.w = file
	}
}

var errNoDirection = errors.New("this end of the link does not go that way")

func (f fifoPair) Read(b []byte) (int, error) {
	if f.r == nil {
		return 0, errNoDirection
	}
	return f.r.Read(b)
}

func (f fifoPair) Write(b []byte) (int, error) {
	if f.w == nil {
		return 0, errNoDirection
	}
	return f.w.Write(b)
}

func (f fifoPair) Close() error {
	var errs []error
	for _, file := range []*os.File{f.r, f.w} {
		if file != nil {
			errs = append(errs, file.Close())
		}
	}
	return errors.Join(errs...)
}

// receiveAll takes want messages of size bytes from next, checking each, and returns the rate
// of the stream's steady part, timed from the arrival of the message that ends its first
// quarter (see steady) to the last's.
func receiveAll(want, size int, next func() ([]byte, error)) (float64, error) {
	clock := steadyClock(want)
	for i := range want {
		msg, err := next()
		if err != nil {
			return 0, fmt.Errorf("message %d: %w", i, err)
		}
		clock.arrived(i)
		if len(msg) != size {
			return 0, fmt.Errorf("message %d: %d bytes, not %d", i, len(msg), size)
		}
		if err := check(msg, i); err != nil {
			return 0, err
		}
	}
	return clock.rate(), nil
}

// A steady times a stream of n messages from the arrival of the one that ends its first
// quarter to the last's: the first quarter is not timed, for every implementation alike. A
// new pair of processes starts slowly (their runtimes settle, the first lap faults the ring's
// pages in, the waits learn their patience): on AMD EPYC a buffered pipe's first million
// 64-byte messages came at 49 M msg/s and every later million at 84-96 M, a Send's at 32 and
// 55-60 M.
type steady struct {
	n, from int
	start   time.Time
}

func steadyClock(n int) steady { return steady{n: n, from: n / 4} }

// arrived is told of message i's arrival.
func (s *steady) arrived(i int) {
	if i == s.from {
		s.start = time.Now()
	}
}

// rate is the messages a second since the timed part began; call it after the last arrived.
func (s *steady) rate() float64 { return float64(s.n-1-s.from) / time.Since(s.start).Seconds() }
