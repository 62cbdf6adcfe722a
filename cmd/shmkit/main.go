package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"

	// The packages whose objects info attaches and prints (shm.Register).
	_ "github.com/shmkit/shmkit/ctypes"
	_ "github.com/shmkit/shmkit/ring"
	_ "github.com/shmkit/shmkit/sem"
)

func main() {
	procs.Main()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: shmkit <command> [flags]

commands:
  ls [--json]                          list shmkit segments and whether they are stale
  info [--json] NAME                   show one segment's header, decoded, and its object's state
  rm NAME...                           remove segments by name
  gc [--dry-run] [--prefix P] [--json] remove stale segments (no live process holds them)
  bench [--quick] [--only RE] [--json] [--svg FILE]
                                       run shmkit against its peers: a table, JSON, a chart
  demo [--width W] [--height H] [--iter N] [--out FILE] [--workers N]
                                       render the Mandelbrot set on a Pool over shared memory
`

// errUsage makes run print the usage and exit 2.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func([]string, io.Writer) error{"ls": ls, "info": info, "rm": rm, "gc": gc, "bench": benchCmd, "demo": demo}
	cmd, ok := cmds[args[0]]
	if !ok {
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "shmkit: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err := cmd(args[1:], stdout); err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage)
			return 2
		}
		fmt.Fprintln(stderr, "shmkit:", err)
		return 1
	}
	return 0
}

// parse parses flags wherever they stand among the arguments and returns the rest.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

func ls(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("ls", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	rest, err := parse(fs, args)
	if err != nil || len(rest) != 0 {
		return errUsage
	}
	all, err := shm.List()
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(w, all)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSIZE\tCREATOR\tATTACHED\tSTATE")
	for _, i := range all {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", i.Name, kindOf(i), i.Size, creator(i), pids(i.Attached), state(i))
	}
	return tw.Flush()
}

func info(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print a JSON object")
	rest, err := parse(fs, args)
	if err != nil || len(rest) != 1 {
		return errUsage
	}
	i, err := shm.Stat(rest[0])
	if err != nil {
		return err
	}
	var obj string
	if i.Problem == "" && i.Ready && i.Kind != "" {
		if obj, err = describe(i.Name, i.Kind); err != nil {
			obj = "cannot attach: " + err.Error()
		}
	}
	if *asJSON {
		return writeJSON(w, []shm.Info{i}, obj)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("name", i.Name)
	row("kind", kindOf(i))
	row("payload", fmt.Sprintf("%d bytes", i.Size))
	row("file", fmt.Sprintf("%d bytes", i.FileSize))
	if !i.Raw && i.FileSize < shm.HeaderSize {
		row("header", fmt.Sprintf("missing: the file is shorter than a %d-byte header", shm.HeaderSize))
	} else if !i.Raw {
		row("header", fmt.Sprintf("%d bytes", shm.HeaderSize))
		row("fingerprint", fmt.Sprintf("%#016x", i.Fingerprint))
		row("creator", creator(i))
		row("created", i.Created.Format(time.RFC3339Nano))
	}
	row("attached", pids(i.Attached))
	row("state", state(i))
	if obj != "" {
		row("object", obj)
	}
	if i.Problem != "" {
		row("problem", i.Problem)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if i.Problem != "" {
		return fmt.Errorf("%s is damaged: %s", i.Name, i.Problem)
	}
	return nil
}

// describe attaches the named segment as the object its kind names, through the attach
// function its package registered (shm.Register), and returns what the object's String shows
// of its state: a lock's holder, a queue's fill level, an array's first elements. It attaches
// for a moment, as any process would, and detaches.
func describe(name, kind string) (string, error) {
	seg, err := shm.Open(name)
	if err != nil {
		return "", err
	}
	defer seg.Close()
	obj, err := shm.Attach(shm.Handle{Type: kind, Segment: seg})
	if errors.Is(err, shm.ErrUnknownType) {
		return "", nil // a kind of another program's: the header says all shmkit knows
	}
	if err != nil {
		return "", err
	}
	if c, ok := obj.(io.Closer); ok {
		defer c.Close()
	}
	if s, ok := obj.(fmt.Stringer); ok {
		return s.String(), nil
	}
	return "", nil
}

func rm(args []string, w io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	if args[0] == "--" { // names never start with '-', but scripts often end flags this way
		args = args[1:]
	}
	var errs []error
	for _, name := range args {
		if err := shm.Remove(name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(w, "removed", name)
	}
	return errors.Join(errs...)
}

func gc(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("gc", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "only say what would be removed")
	prefix := fs.String("prefix", "", "only segments whose name starts with this")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	rest, err := parse(fs, args)
	if err != nil || len(rest) != 0 {
		return errUsage
	}
	removed, err := shm.Reclaim(shm.ReclaimOptions{DryRun: *dry, Prefix: *prefix})
	if *asJSON {
		if jerr := writeJSON(w, removed); jerr != nil {
			return jerr
		}
		return err
	}
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	for _, i := range removed {
		fmt.Fprintf(w, "%s %s (%s, %d bytes, creator %s)\n", verb, i.Name, kindOf(i), i.Size, creator(i))
	}
	if len(removed) == 0 {
		fmt.Fprintln(w, "no stale segments")
	}
	return err
}

// segmentJSON is the --json form of shm.Info; field names are stable.
type segmentJSON struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Raw         bool      `json:"raw"`
	Size        int64     `json:"size"`
	FileSize    int64     `json:"file_size"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	CreatorPID  int       `json:"creator_pid,omitempty"`
	Created     time.Time `json:"created,omitzero"`
	Ready       bool      `json:"ready"`
	Stale       bool      `json:"stale"`
	Attached    []int     `json:"attached"`
	Problem     string    `json:"problem,omitempty"`
	Object      string    `json:"object,omitempty"` // info: what the object's String shows
}

// writeJSON writes one object per segment; objects, if given, are info's descriptions of them.
func writeJSON(w io.Writer, infos []shm.Info, objects ...string) error {
	enc := json.NewEncoder(w)
	for k, i := range infos {
		j := segmentJSON{Name: i.Name, Kind: i.Kind, Raw: i.Raw, Size: i.Size, FileSize: i.FileSize,
			CreatorPID: i.CreatorPID, Created: i.Created, Ready: i.Ready, Stale: i.Stale,
			Attached: i.Attached, Problem: i.Problem}
		if k < len(objects) {
			j.Object = objects[k]
		}
		if j.Attached == nil {
			j.Attached = []int{}
		}
		if i.Fingerprint != 0 {
			j.Fingerprint = fmt.Sprintf("%016x", i.Fingerprint)
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return nil
}

func kindOf(i shm.Info) string {
	switch {
	case i.Raw:
		return "(raw)"
	case i.Kind == "":
		return "(plain)"
	}
	return i.Kind
}

func creator(i shm.Info) string {
	if i.CreatorPID == 0 {
		return "-"
	}
	return fmt.Sprint(i.CreatorPID)
}

func pids(p []int) string {
	if len(p) == 0 {
		return "-"
	}
	s := make([]string, len(p))
	for k, pid := range p {
		s[k] = fmt.Sprint(pid)
	}
	return strings.Join(s, ",")
}

func state(i shm.Info) string {
	switch {
	case i.Problem != "" && i.Stale:
		return "stale, damaged"
	case i.Problem != "":
		return "damaged"
	case i.Stale:
		return "stale"
	case !i.Ready:
		return "initialising"
	}
	return "live"
}
