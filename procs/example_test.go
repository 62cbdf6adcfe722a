package procs_test

import (
	"context"
	"encoding/binary"
	"fmt"

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
