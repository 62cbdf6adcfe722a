package ring

import (
	"errors"
	"fmt"

	"github.com/shmkit/shmkit/shm"
)

// A Duplex is two Pipes, one each way: Python's Pipe(duplex=True), for request and response.
// Each process takes one side. Its fields are Pipes, so a *Duplex (or a Duplex) travels to a
// child inside a procs entry's argument as it is.
type Duplex struct {
	AB, BA *Pipe // side 0 writes AB and reads BA; side 1 the opposite
}

// NewDuplex makes two anonymous pipes (options as for NewPipe: Capacity is each pipe's).
func NewDuplex(opts ...shm.Option) (*Duplex, error) { return makeDuplex("", opts) }

// CreateDuplex makes the two pipes named name+"-ab" and name+"-ba" (so name is at most 27
// bytes); shm.ErrExist if either is taken. A name pattern (a '*', see shm.Create) is filled
// in once for both; Name of either pipe shows it.
func CreateDuplex(name string, opts ...shm.Option) (*Duplex, error) {
	if !shm.IsPattern(name) {
		if err := shm.ValidateName(name + "-ab"); err != nil {
			return nil, err
		}
		return makeDuplex(name, opts)
	}
	for range 100 {
		base := shm.ExpandName(name)
		if err := shm.ValidateName(base + "-ab"); err != nil {
			return nil, err
		}
		d, err := makeDuplex(base, opts)
		if !errors.Is(err, shm.ErrExist) {
			return d, err
		}
	}
	return nil, fmt.Errorf("%w: 100 names made from %q were all taken", shm.ErrExist, name)
}

// OpenDuplex attaches the two pipes CreateDuplex made under name.
func OpenDuplex(name string, opts ...shm.Option) (*Duplex, error) {
	p1, err := OpenPipe(name+"-ab", opts...)
	if err != nil {
		return nil, err
	}
	p2, err := OpenPipe(name+"-ba", opts...)
	if err != nil {
		_ = p1.Close()
		return nil, err
	}
	return &Duplex{AB: p1, BA: p2}, nil
}

func makeDuplex(name string, opts []shm.Option) (*Duplex, error) {
	ab, ba := name, name
	if name != "" {
		ab, ba = name+"-ab", name+"-ba"
	}
	p1, err := makePipe(ab, opts, 0)
	if err != nil {
		return nil, err
	}
	p2, err := makePipe(ba, opts, 0)
	if err != nil {
		_ = p1.Unlink()
		_ = p1.Close()
		return nil, err
	}
	return &Duplex{AB: p1, BA: p2}, nil
}

// Side claims side 0 or 1 for this process: the writer of one pipe and the reader of the other.
func (d *Duplex) Side(i int) (*Conn, error) {
	out, in := d.AB, d.BA
	switch i {
	case 0:
	case 1:
		out, in = d.BA, d.AB
	default:
		return nil, fmt.Errorf("%w: duplex side %d", ErrInvalid, i)
	}
	w, err := out.Writer()
	if err != nil {
		return nil, err
	}
	r, err := in.Reader()
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	return &Conn{r, w}, nil
}

// Close detaches this process from both pipes.
func (d *Duplex) Close() error { return errors.Join(d.AB.Close(), d.BA.Close()) }

// Shutdown ends both pipes for every process.
func (d *Duplex) Shutdown() error { return errors.Join(d.AB.Shutdown(), d.BA.Shutdown()) }

// Unlink removes both pipes' names.
func (d *Duplex) Unlink() error { return errors.Join(d.AB.Unlink(), d.BA.Unlink()) }

// A Conn is one side of a Duplex: every Writer method sends to the other side, every Reader
// method reads from it.
type Conn struct {
	*Reader
	*Writer
}

// Close closes both ends: the other side reads what was sent, then io.EOF.
func (c *Conn) Close() error { return errors.Join(c.Writer.Close(), c.Reader.Close()) }

// SetWaitMode sets how both ends wait.
func (c *Conn) SetWaitMode(m WaitMode) {
	c.Reader.SetWaitMode(m)
	c.Writer.SetWaitMode(m)
}
