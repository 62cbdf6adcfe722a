// Command primes counts the primes below N with a cluster pool: the same binary is the
// coordinator and, on other hosts, a worker.
//
//	go run ./example/primes                                   # one machine: embedded server, local workers
//	go run ./example/primes -listen 0.0.0.0:4222 -local 0     # coordinator; waits for workers to join
//	go run ./example/primes -serve nats://coordinator:4222    # a worker host (run several)
//	go run ./example/primes -url nats://nats-1:4222           # coordinator on an existing NATS cluster
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/shmkit/shmkit/cluster"
	"github.com/shmkit/shmkit/internal/work"
	"github.com/shmkit/shmkit/procs"
)

type span struct{ Lo, Hi int64 }

var countPrimes = procs.Func("example.countPrimes", func(ctx context.Context, s span) (int64, error) {
	return work.CountPrimes(s.Lo, s.Hi), nil
})

func main() {
	procs.Main() // first: pool workers are re-executions of this binary
	var (
		listen = flag.String("listen", "", "coordinator: let workers join the embedded server at this address")
		url    = flag.String("url", "", "coordinator: use the NATS server(s) at this URL instead of an embedded one")
		serve  = flag.String("serve", "", "be a worker of the pool at this NATS URL")
		local  = flag.Int("local", -2, "coordinator: local workers (default: all CPUs with no -listen or -url, else none)")
		n      = flag.Int64("n", 3_000_000, "count the primes below n")
		parts  = flag.Int("parts", 64, "in this many tasks")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *serve != "" {
		log.Printf("serving %s", *serve)
		if err := cluster.Serve(ctx, *serve); err != nil {
			log.Fatal(err)
		}
		return
	}
	cfg := cluster.Config{URL: *url, Listen: *listen}
	switch {
	case *local == 0:
		cfg.LocalWorkers = -1
	case *local > 0:
		cfg.LocalWorkers = *local
	}
	pool, err := cluster.NewPool(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if u := pool.URL(); u != "" {
		log.Printf("workers join with: -serve %s", u)
	}
	var spans []span
	for i := range int64(*parts) {
		spans = append(spans, span{i * *n / int64(*parts), (i + 1) * *n / int64(*parts)})
	}
	start := time.Now()
	counts, err := cluster.Map(ctx, pool, countPrimes, spans)
	if err != nil {
		log.Fatal(err)
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	fmt.Printf("%d primes below %d in %v (%d tasks; %+v)\n", total, *n, time.Since(start).Round(time.Millisecond), len(spans), pool.Stats())
}
