package spin

import (
	"fmt"
	"sync/atomic"
)

// A wait for another goroutine's (or process's) store: Pause once a look.
func ExamplePause() {
	var flag atomic.Bool
	go flag.Store(true)
	for !flag.Load() {
		Pause()
	}
	fmt.Println("set")
	// Output: set
}
