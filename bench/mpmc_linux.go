//go:build linux

package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// The unix-socket baseline of mpmc_2p2c_64B_throughput: one SOCK_SEQPACKET socket pair, its
// sending end shared by two producer processes and its receiving end by two consumer
// processes (each message goes to exactly one reader, as a queue's does). The children are
// this binary started with mpmcRoleEnv, the socket as their standard input; package bench's
// init runs the role and exits before main.
const mpmcRoleEnv = "SHMKIT_BENCH_MPMC_ROLE" // "produce FROM N" or "consume"

func init() {
	if role := os.Getenv(mpmcRoleEnv); role != "" {
		if err := socketRole(role); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// socketRole is a child's side: produce messages FROM..FROM+N-1 into fd 0, or consume from
// fd 0 until an empty message and print "count sum".
func socketRole(role string) error {
	var from, n int
	msg := make([]byte, 64)
	if _, err := fmt.Sscanf(role, "produce %d %d", &from, &n); err == nil {
		for i := from; i < from+n; i++ {
			binary.LittleEndian.PutUint64(msg, uint64(i))
			if _, err := unix.Write(0, msg); err != nil {
				return err
			}
		}
		return nil
	}
	if role != "consume" {
		return fmt.Errorf("unknown role %q", role)
	}
	var count, sum int64
	for {
		k, err := unix.Read(0, msg)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if k == 0 || k == 1 { // the end marker (a zero-length datagram reads as 0 as well)
			break
		}
		count++
		sum += int64(binary.LittleEndian.Uint64(msg))
	}
	fmt.Println(count, sum)
	return nil
}

func socketMPMC(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
	n := o.scale(1_000_000)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	send, recv := os.NewFile(uintptr(fds[0]), "send"), os.NewFile(uintptr(fds[1]), "recv")
	defer send.Close()
	defer recv.Close()
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	start := func(role string, in *os.File, out *bytes.Buffer) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, exe)
		cmd.Env = append(os.Environ(), mpmcRoleEnv+"="+role)
		cmd.Stdin, cmd.Stderr = in, os.Stderr
		if out != nil {
			cmd.Stdout = out
		}
		return cmd, cmd.Start()
	}
	outs := []*bytes.Buffer{{}, {}}
	var consumers, producers []*exec.Cmd
	defer func() {
		for _, c := range append(consumers, producers...) {
			if c.ProcessState == nil {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		}
	}()
	for _, out := range outs {
		c, err := start("consume", recv, out)
		if err != nil {
			return 0, err
		}
		consumers = append(consumers, c)
	}
	time.Sleep(20 * time.Millisecond) // consumers up
	t := time.Now()
	for p := range 2 {
		c, err := start("produce "+strconv.Itoa(p*n)+" "+strconv.Itoa(n), send, nil)
		if err != nil {
			return 0, err
		}
		producers = append(producers, c)
	}
	for _, c := range producers {
		if err := c.Wait(); err != nil {
			return 0, fmt.Errorf("a producer: %w", err)
		}
	}
	for range consumers { // one end marker each
		if _, err := send.Write([]byte{0}); err != nil {
			return 0, err
		}
	}
	for _, c := range consumers {
		if err := c.Wait(); err != nil {
			return 0, fmt.Errorf("a consumer: %w", err)
		}
	}
	d := time.Since(t)
	var count, sum int64
	for _, out := range outs {
		var c, s int64
		if _, err := fmt.Sscan(out.String(), &c, &s); err != nil {
			return 0, errors.New("a consumer printed no totals")
		}
		count, sum = count+c, sum+s
	}
	if count != int64(2*n) || sum != int64(2*n)*int64(2*n-1)/2 {
		return 0, fmt.Errorf("consumers got %d messages summing to %d", count, sum)
	}
	return rate(2*n, d), nil
}
