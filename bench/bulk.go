package bench

import (
	"context"
	"errors"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func init() { groups = append(groups, bulkScenarios) }

const bulkSize = 1 << 20

func bulkScenarios() []Scenario {
	note := "a producer process sends 1 MiB messages, each copied from its own buffer; the consumer (this process) checks each one's sequence number and last byte. copy: the consumer copies each message into its own buffer (a kernel read does); inplace: shmkit's consumer reads it where it lies in the ring. Kernel baselines write and read whole messages; go-chan hands a slice of one of 16 rotating buffers, which the consumer copies; cpython: multiprocessing.Pipe send_bytes/recv_bytes, a twentieth of the messages"
	var out []Scenario
	for _, inplace := range []bool{false, true} {
		inplace := inplace
		name, goal := "bulk_1MiB_copy_gbps", "near floor_memcpy_gbps"
		if inplace {
			name, goal = "bulk_1MiB_inplace_gbps", "above bulk_1MiB_copy_gbps"
		}
		s := Scenario{Name: name, Unit: "GB/s", Higher: true, Goal: goal, Note: note}
		for _, impl := range []string{Shmkit, GoChan, OSPipe, UnixSocket, TCPLoopback} {
			impl := impl
			s.Impls = append(s.Impls, Impl{Name: impl, Run: func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
				return bulk(ctx, impl, inplace, o.scale(2000))
			}})
		}
		s.Impls = append(s.Impls, pyRate(2000/cpythonFewer, "bulk"))
		out = append(out, s)
	}
	out = append(out, Scenario{Name: "floor_memcpy_gbps", Unit: "GB/s", Higher: true,
		Goal: "the floor: copy() of 1 MiB blocks within one process, over an 8 MiB region",
		Impls: []Impl{{Floor, func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
			return memcpyFloor(o.scale(4000))
		}}}})
	return out
}

// bulk moves count 1 MiB messages from a child and returns GB/s, timed from the arrival of the
// message that ends the first quarter (see steady).
func bulk(ctx context.Context, impl string, inplace bool, count int) (float64, error) {
	if impl == GoChan {
		return chanBulk(count)
	}
	rate, err := streamN(ctx, streamArgs{Impl: impl, Size: bulkSize, Count: count}, count, !inplace)
	return rate * bulkSize / 1e9, err
}

func chanBulk(count int) (float64, error) {
	bufs := make([][]byte, 16)
	for i := range bufs {
		bufs[i] = make([]byte, bulkSize)
	}
	src := make([]byte, bulkSize)
	ch := make(chan []byte, 8) // fewer than the buffers: none is reused while queued or read
	go func() {
		for i := range count {
			b := bufs[i%len(bufs)]
			fill(src, i)
			copy(b, src)
			ch <- b
		}
		close(ch)
	}()
	dst := make([]byte, bulkSize)
	clock := steadyClock(count)
	i := 0
	for b := range ch {
		copy(dst, b)
		clock.arrived(i)
		if err := check(dst, i); err != nil {
			return 0, err
		}
		i++
	}
	return clock.rate() * bulkSize / 1e9, nil
}

func memcpyFloor(count int) (float64, error) {
	region := make([]byte, 8<<20)
	src := make([]byte, bulkSize)
	for i := range src {
		src[i] = byte(i)
	}
	blocks := len(region) / bulkSize
	t := tick()
	for i := range count {
		copy(region[(i%blocks)*bulkSize:], src)
	}
	d := since(t)
	if region[bulkSize-1] != src[bulkSize-1] {
		return 0, errors.New("the copy did not land")
	}
	return float64(count) * bulkSize / d.Seconds() / 1e9, nil
}
