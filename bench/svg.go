package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// WriteSVG draws the results as a chart that reads without the table: one row per scenario,
// and for each peer a mark at how many times better shmkit did than it (its figure over
// shmkit's, or shmkit's over its, whichever way the unit points), on a log scale. Marks right
// of the line at 1 are scenarios shmkit wins; the floors are marked too, left of the line by
// how far shmkit is above the raw limit.
func WriteSVG(w io.Writer, m Machine, rs []Result) error {
	p, rows, err := chart(m, rs)
	if err != nil {
		return err
	}
	c := vgsvg.New(vg.Points(760), chartHeight(rows))
	p.Draw(draw.New(c))
	_, err = c.WriteTo(w)
	return err
}

func chartHeight(rows int) vg.Length { return vg.Length(rows)*vg.Points(22) + vg.Points(120) }

// chart builds the plot WriteSVG draws, and says how many rows it has.
func chart(m Machine, rs []Result) (*plot.Plot, int, error) {
	names, by := byScenario(rs)
	type point struct {
		row   int
		ratio float64
	}
	perImpl := map[string][]point{}
	var rows []string
	for _, name := range names {
		s, ok := scenarioNamed(name)
		if !ok {
			continue
		}
		var mine *Result
		for i := range by[name] {
			if r := &by[name][i]; r.Impl == Shmkit && r.Skipped == "" && r.Error == "" && r.Value > 0 {
				mine = r
			}
		}
		if mine == nil {
			continue
		}
		row := len(rows)
		added := false
		for _, r := range by[name] {
			if r.Impl == Shmkit || r.Skipped != "" || r.Error != "" || r.Value <= 0 {
				continue
			}
			ratio := mine.Value / r.Value
			if !s.Higher {
				ratio = r.Value / mine.Value
			}
			perImpl[r.Impl] = append(perImpl[r.Impl], point{row, ratio})
			added = true
		}
		if floor, ok := floorOf[name]; ok {
			for _, r := range by[floor] {
				if r.Impl == Floor && r.Value > 0 && r.Skipped == "" && r.Error == "" {
					fs, _ := scenarioNamed(floor)
					ratio := mine.Value / r.Value
					if !fs.Higher {
						ratio = r.Value / mine.Value
					}
					perImpl[Floor] = append(perImpl[Floor], point{row, ratio})
					added = true
				}
			}
		}
		if added {
			rows = append(rows, name)
		}
	}
	if len(rows) == 0 {
		return nil, 0, fmt.Errorf("nothing to chart: no scenario has shmkit and a peer")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("shmkit against its peers: how many times better (log scale)\n%s, %d cores, %s", m.CPU, m.Cores, m.Go)
	p.X.Label.Text = "peer's figure relative to shmkit's (> 1: shmkit is better)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = false
	// Rows top to bottom in suite order: the nominal axis counts upwards.
	labels := slices.Clone(rows)
	slices.Reverse(labels)
	p.NominalY(labels...)
	lo, hi := math.Inf(1), math.Inf(-1)
	impls := []string{GoChan, OSPipe, UnixSocket, TCPLoopback, CPython, Boost, Floor}
	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}}
	colors := []color.Color{
		color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
		color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
		color.RGBA{0x44, 0x44, 0x44, 0xff},
	}
	for k, impl := range impls {
		pts := perImpl[impl]
		if len(pts) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(pts))
		for i, pt := range pts {
			xy[i] = plotter.XY{X: pt.ratio, Y: float64(len(rows) - 1 - pt.row)}
			lo, hi = math.Min(lo, pt.ratio), math.Max(hi, pt.ratio)
		}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, 0, err
		}
		sc.GlyphStyle.Shape = shapes[k]
		sc.GlyphStyle.Color = colors[k]
		sc.GlyphStyle.Radius = vg.Points(3.5)
		p.Add(sc)
		label := impl
		if impl == Floor {
			label = "floor (raw limit)"
		} else if impl == GoChan {
			label = "go-chan (in-process)"
		}
		p.Legend.Add(label, sc)
	}
	lo, hi = math.Min(lo, 0.5), math.Max(hi, 2)
	p.X.Min, p.X.Max = lo/1.5, hi*40 // room on the right for the legend, clear of the marks
	parity, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: float64(len(rows)) - 0.5}})
	if err != nil {
		return nil, 0, err
	}
	parity.LineStyle.Color = color.Gray{Y: 0x80}
	parity.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(parity)
	p.Add(plotter.NewGrid())
	return p, len(rows), nil
}

// floorOf names the raw floor each scenario is judged against, charted beside its peers.
var floorOf = map[string]string{
	"pingpong_64B_rtt_spin":   "floor_spin_rtt",
	"pingpong_64B_rtt_block":  "floor_futex_rtt",
	"sem_handoff_rtt":         "floor_futex_rtt",
	"bulk_1MiB_copy_gbps":     "floor_memcpy_gbps",
	"process_start_join":      "floor_exec_start_join",
	"process_start_join_warm": "floor_exec_start_join",
}
