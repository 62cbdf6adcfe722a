package bench

import (
	"testing"

	"github.com/shmkit/shmkit/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Run(m) }
