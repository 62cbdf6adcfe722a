package procs_test

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"
)

type squareArgs struct {
	Out *shm.Segment // arrives in the child attached to the same memory
	N   uint64       // plain fields are copied
}

// square writes N*N into the shared segment. Register entries at package level.
var square = procs.Entry("example.square", func(ctx context.Context, a squareArgs) error {
	binary.LittleEndian.PutUint64(a.Out.Bytes(), a.N*a.N)
	return nil
})

// Start an entry in a child process that writes into a shared segment. The program's main
// (here TestMain) calls procs.Main first.
func ExampleEntry() {
	seg, err := shm.Anonymous(8) // no name: it travels as an inherited fd
	if err != nil {
		fmt.Println(err)
		return
	}
	defer seg.Close()

	p, err := square.Start(context.Background(), squareArgs{Out: seg, N: 12})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.WaitContext(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(binary.LittleEndian.Uint64(seg.Bytes()), p.ExitCode())
	// Output: 144 0
}

// The error an entry returns reaches the parent with the child's exit code.
func ExampleExitError() {
	err := act.Run(context.Background(), modeArgs{"err"}, procs.WithName("failing"))
	fmt.Println(err.(*procs.ExitError).Code, err.(*procs.ExitError).Message)
	// Output: 1 the entry failed on purpose
}

// cube is a Func: registered by name at package level, so the pool's workers (re-executions
// of this program) find it.
var cube = procs.Func("example.cube", func(ctx context.Context, x int64) (int64, error) { return x * x * x, nil })

// Map a function over inputs on a pool of worker processes: Python's Pool.map.
func ExampleMap() {
	ctx := context.Background()
	pool, err := procs.NewPool(ctx, procs.PoolConfig{Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	out, err := procs.Map(ctx, pool, cube, []int64{1, 2, 3, 4, 5})
	fmt.Println(out, err)
	// Output: [1 8 27 64 125] <nil>
}

// Imap yields each output in input order as soon as it is in: Python's Pool.imap.
func ExampleImap() {
	ctx := context.Background()
	pool, err := procs.NewPool(ctx, procs.PoolConfig{Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	for v, err := range procs.Imap(ctx, pool, cube, []int64{10, 20, 30}, procs.Chunk(1)) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(v)
	}
	// Output:
	// 1000
	// 8000
	// 27000
}

type axpy struct {
	X, Y *ctypes.RawArray[float64] // shared: each worker works on the same memory
	A    float64
}

// saxpy computes y[i] += a*x[i] over its span, in place in shared memory.
var saxpy = procs.Func("example.saxpy", func(ctx context.Context, s procs.Span[axpy]) (struct{}, error) {
	x, y := s.Arg.X.Slice(), s.Arg.Y.Slice()
	for i := s.Lo; i < s.Hi; i++ {
		y[i] += s.Arg.A * x[i]
	}
	return struct{}{}, nil
})

// ForRange splits an index range over the workers, each working in place on shared arrays.
func ExampleForRange() {
	ctx := context.Background()
	pool, err := procs.NewPool(ctx, procs.PoolConfig{Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	const n = 1000
	x, _ := ctypes.NewRawArray[float64](n)
	y, _ := ctypes.NewRawArray[float64](n)
	defer x.Close()
	defer y.Close()
	for i := range n {
		x.Slice()[i], y.Slice()[i] = float64(i), 1
	}
	if err := procs.ForRange(ctx, pool, saxpy, n, axpy{X: x, Y: y, A: 2}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y.Slice()[0], y.Slice()[999])
	// Output: 1 1999
}
