package shm_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/shmkit/shmkit/shm"
)

// Create a named segment, attach it a second time, and clean up.
func ExampleCreate() {
	name := fmt.Sprintf("example-%d", os.Getpid())
	seg, err := shm.Create(name, 4096, shm.Kind("example.greeting"), shm.Layout("greeting/v1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer seg.Close()
	defer seg.Unlink() // named segments outlive their processes unless removed

	copy(seg.Bytes(), "hello")

	// Another process would do the same: Open checks kind and layout before trusting the memory.
	other, err := shm.Open(name, shm.Kind("example.greeting"), shm.Layout("greeting/v1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer other.Close()
	fmt.Println(string(other.Bytes()[:5]), other.Size())

	_, err = shm.Open(name, shm.Kind("example.other"))
	fmt.Println(errors.Is(err, shm.ErrKind))
	// Output:
	// hello 4096
	// true
}

// Init prepares the payload before any other process can open the segment.
func ExampleInit() {
	name := fmt.Sprintf("example-init-%d", os.Getpid())
	seg, err := shm.Create(name, 64, shm.Init(func(b []byte) error {
		copy(b, "ready")
		return nil
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer seg.Close()
	defer seg.Unlink()
	fmt.Println(string(seg.Bytes()[:5]))
	// Output: ready
}

// A generated name and a Scope that removes it: Python's SharedMemory(create=True) under a
// SharedMemoryManager.
func ExampleScope() {
	scope := shm.NewScope()
	defer scope.Close()
	seg, err := shm.Create("example-*", 4096, shm.In(scope))
	if err != nil {
		fmt.Println(err)
		return
	}
	other, _, err := shm.OpenOrCreate(seg.Name(), 4096, shm.In(scope)) // as another process would
	if err != nil {
		fmt.Println(err)
		return
	}
	other.Bytes()[0] = 7
	fmt.Println(seg.Bytes()[0], len(seg.Name()))
	// Output: 7 18
}
