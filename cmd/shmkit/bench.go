package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"time"

	"github.com/shmkit/shmkit/bench"
)

// benchCmd runs the benchmark suite: every scenario as shmkit and as each baseline, in one
// run, with progress on stderr and the table (or JSON) on stdout.
func benchCmd(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "one JSON object per line: the machine, then each result")
	quick := fs.Bool("quick", false, "fewer, shorter runs (the whole suite in under a minute)")
	only := fs.String("only", "", "run only the scenarios whose name matches this regular expression")
	svg := fs.String("svg", "", "also draw the results as an SVG chart in this file")
	rest, err := parse(fs, args)
	if err != nil || len(rest) != 0 {
		return errUsage
	}
	o := bench.Options{Quick: *quick}
	if *only != "" {
		if o.Only, err = regexp.Compile(*only); err != nil {
			return fmt.Errorf("--only: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m := bench.ThisMachine()
	fmt.Fprintf(os.Stderr, "shmkit bench on %s (%d cores)\n", m.CPU, m.Cores)
	start := time.Now()
	var running string
	results, err := bench.Run(ctx, o, func(s bench.Scenario, impl string, r *bench.Result) {
		if r == nil { // a throughput scenario's implementations run in rounds: say so once
			if s.Name != running {
				fmt.Fprintf(os.Stderr, "  %s\n", s.Name)
				running = s.Name
			}
			return
		}
		fmt.Fprintf(os.Stderr, "    %-13s ", impl)
		switch {
		case r.Skipped != "":
			fmt.Fprintf(os.Stderr, "skipped: %s\n", r.Skipped)
		case r.Error != "":
			fmt.Fprintf(os.Stderr, "error: %s\n", r.Error)
		default:
			fmt.Fprintf(os.Stderr, "%.4g %s\n", r.Value, r.Unit)
		}
	})
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("no scenario matches %q", *only)
	}
	fmt.Fprintf(os.Stderr, "done in %s\n", time.Since(start).Round(time.Second))
	if *svg != "" {
		if err := writeChart(*svg, m, results); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "chart: %s\n", *svg)
	}
	if *asJSON {
		return bench.WriteJSON(w, m, results)
	}
	return bench.WriteTable(w, m, results)
}

func writeChart(path string, m bench.Machine, results []bench.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := bench.WriteSVG(f, m, results); err != nil {
		_ = f.Close()
		return fmt.Errorf("--svg: %w", err)
	}
	return f.Close()
}
