//go:build !unix && !windows

package testmain

import "time"

// cpuTime is not measured here (neither Unix nor Windows, where the tests do not run): every wait looks free.
func cpuTime() time.Duration { return 0 }

// cpuResolution: nothing is measured here.
const cpuResolution = 0
