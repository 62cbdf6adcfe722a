//go:build !linux

package bench

import (
	"context"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func socketMPMC(context.Context, Options, *hdrhistogram.Histogram) (float64, error) {
	return 0, skip("the SOCK_SEQPACKET baseline runs on Linux only")
}
