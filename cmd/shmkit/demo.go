package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"time"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/procs"
)

// shmkit demo: a numeric batch job on a Pool over shared memory. The Mandelbrot set is
// rendered into a RawArray that every worker process writes in place (each a band of rows),
// then written as a PNG. The same code runs serially first, for the speedup.

// frame is what each task gets besides its rows: the shared image, and what to draw.
type frame struct {
	Pixels  *ctypes.RawArray[uint16] // W×H iteration counts; travels as a handle, not a copy
	W, H    int
	MaxIter int
}

// mandelRows renders rows [Lo, Hi) of the frame, in place in shared memory. It is registered
// at package level, so the pool's workers (re-executions of this binary) find it by name.
var mandelRows = procs.Func("demo.mandelRows", func(ctx context.Context, s procs.Span[frame]) (struct{}, error) {
	render(s.Arg.Pixels.Slice(), s.Arg.W, s.Arg.H, s.Arg.MaxIter, s.Lo, s.Hi)
	return struct{}{}, nil
})

// render computes the escape time of each pixel of rows [lo, hi) over the classic view.
func render(px []uint16, w, h, maxIter, lo, hi int) {
	for y := lo; y < hi; y++ {
		ci := -1.2 + 2.4*float64(y)/float64(h)
		for x := range w {
			cr := -2.1 + 3.0*float64(x)/float64(w)
			zr, zi, n := 0.0, 0.0, 0
			for ; n < maxIter && zr*zr+zi*zi <= 4; n++ {
				zr, zi = zr*zr-zi*zi+cr, 2*zr*zi+ci
			}
			px[y*w+x] = uint16(n)
		}
	}
}

func demo(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	width := fs.Int("width", 1600, "image width in pixels")
	height := fs.Int("height", 1200, "image height in pixels")
	maxIter := fs.Int("iter", 2000, "iterations before a point counts as inside")
	out := fs.String("out", "mandelbrot.png", "where to write the picture")
	workers := fs.Int("workers", 0, "worker processes (0: one per CPU)")
	rest, err := parse(fs, args)
	if err != nil || len(rest) != 0 {
		return errUsage
	}
	if *width < 1 || *height < 1 || *maxIter < 1 || *maxIter > 65535 || *workers < 0 {
		return fmt.Errorf("%w: --width and --height ≥ 1, 1 ≤ --iter ≤ 65535, --workers ≥ 0", errUsage)
	}
	ctx := context.Background()
	n := *width * *height

	// Serially, in this process.
	serial := make([]uint16, n)
	t := time.Now()
	render(serial, *width, *height, *maxIter, 0, *height)
	ts := time.Since(t)

	// On a pool: the image lives in shared memory, the workers fill it in place.
	pixels, err := ctypes.NewRawArray[uint16](n)
	if err != nil {
		return err
	}
	defer pixels.Close()
	pool, err := procs.NewPool(ctx, procs.PoolConfig{Workers: *workers})
	if err != nil {
		return err
	}
	defer pool.Close()
	t = time.Now()
	// Rows near the set cost far more than rows outside it: bands of 16 rows, handed out as
	// workers free up, keep both cores busy to the end.
	err = procs.ForRange(ctx, pool, mandelRows, *height, frame{Pixels: pixels, W: *width, H: *height, MaxIter: *maxIter}, procs.Chunk(16))
	tp := time.Since(t)
	if err != nil {
		return err
	}
	for i, v := range pixels.Slice() {
		if v != serial[i] {
			return fmt.Errorf("pixel %d: the pool computed %d, the serial run %d", i, v, serial[i])
		}
	}
	if err := writePNG(*out, pixels.Slice(), *width, *height, *maxIter); err != nil {
		return err
	}
	fmt.Fprintf(w, "mandelbrot %dx%d, %d iterations, %d worker processes\n", *width, *height, *maxIter, pool.Workers())
	fmt.Fprintf(w, "serial  %v\npool    %v\nspeedup %.2fx\npicture %s\n", ts.Round(time.Millisecond), tp.Round(time.Millisecond), ts.Seconds()/tp.Seconds(), *out)
	return nil
}

// writePNG colours each pixel by its escape time (black inside the set).
func writePNG(path string, px []uint16, w, h, maxIter int) error {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, n := range px {
		c := color.RGBA{A: 255}
		if int(n) < maxIter {
			t := math.Log1p(float64(n)) / math.Log1p(float64(maxIter)) // escape time, log scale
			c.R, c.G, c.B = uint8(9*(1-t)*t*t*t*255), uint8(15*(1-t)*(1-t)*t*t*255), uint8(8.5*(1-t)*(1-t)*(1-t)*t*255)
		}
		img.Set(i%w, i/w, c)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
