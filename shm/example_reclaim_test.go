//go:build !windows

package shm_test

import (
	"fmt"
	"os"

	"github.com/shmkit/shmkit/shm"
)

// Reclaim removes segments that no live process holds.
func ExampleReclaim() {
	name := fmt.Sprintf("example-gc-%d", os.Getpid())
	seg, err := shm.Create(name, 64)
	if err != nil {
		fmt.Println(err)
		return
	}
	seg.Close() // no process holds it now, but its name remains: it is stale

	removed, err := shm.Reclaim(shm.ReclaimOptions{Prefix: name})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, info := range removed {
		fmt.Println("removed", info.Name == name, info.Stale)
	}
	// Output: removed true true
}
