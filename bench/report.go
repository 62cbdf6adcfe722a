package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the machine as the first object, then one object per result, one per line.
func WriteJSON(w io.Writer, m Machine, rs []Result) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(struct {
		Machine Machine `json:"machine"`
	}{m}); err != nil {
		return err
	}
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// WriteTable writes one row per scenario: shmkit's figure, the best cross-process baseline's,
// the ratio (above 1: shmkit is better, whichever way the unit points), the in-process Go
// channel's figure for reference, and the goal; then every implementation's figure, skipped
// ones with the reason.
func WriteTable(w io.Writer, m Machine, rs []Result) error {
	fmt.Fprintf(w, "machine: %s, %d cores, %s/%s, kernel %s, %s\n\n", m.CPU, m.Cores, m.OS, m.Arch, m.Kernel, m.Go)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tshmkit\tbest cross-process baseline\tratio\tgo-chan (in-process)\tgoal")
	names, by := byScenario(rs)
	for _, name := range names {
		group := by[name]
		s, _ := scenarioNamed(name)
		var mine *Result
		ch := "-"
		for i := range group {
			if group[i].Impl == Shmkit || (group[i].Impl == Floor && len(group) == 1) {
				mine = &group[i]
			}
			if group[i].Impl == GoChan {
				ch = figure(group[i])
			}
		}
		b := best(group, s.Higher)
		cell, bcell, ratio := "-", "-", "-"
		if mine != nil {
			cell = figure(*mine)
		}
		if b != nil {
			bcell = b.Impl + " " + figure(*b)
			if mine != nil && mine.Skipped == "" && mine.Error == "" && mine.Value > 0 {
				x := mine.Value / b.Value
				if !s.Higher {
					x = b.Value / mine.Value
				}
				ratio = fmt.Sprintf("%.2fx", x)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, cell, bcell, ratio, ch, s.Goal)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nevery figure (latency: p50 / p99 / p99.9 / max, mean):")
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, name := range names {
		for _, r := range by[name] {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Impl, figure(r)+detail(r))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, name := range names {
		if s, ok := scenarioNamed(name); ok && s.Note != "" {
			notes = append(notes, fmt.Sprintf("  %s: %s", name, s.Note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nhow the baselines run:\n%s\n", strings.Join(notes, "\n"))
	}
	return nil
}

func figure(r Result) string {
	switch {
	case r.Skipped != "":
		return "skipped (" + r.Skipped + ")"
	case r.Error != "":
		return "error: " + r.Error
	}
	return human(r.Value) + " " + r.Unit
}

func detail(r Result) string {
	if r.Samples == 0 {
		if r.Runs > 0 {
			return fmt.Sprintf("  (median of %d runs)", r.Runs)
		}
		return ""
	}
	return fmt.Sprintf("  (p99 %s, p99.9 %s, max %s, mean %s; %d samples)", human(r.P99), human(r.P999), human(r.Max), human(r.Mean), r.Samples)
}

// human prints v with three significant digits and a k/M/G suffix for large values.
func human(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return fmt.Sprintf("%.3g", v)
}
