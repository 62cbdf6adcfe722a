package cluster_test

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/cluster"
	"github.com/shmkit/shmkit/procs"
)

// Registered in every process of the program, as procs.Func requires.
var cube = procs.Func("example-cube", func(ctx context.Context, x int) (int, error) { return x * x * x, nil })

// With no URL the pool runs on an embedded server inside this process, served by a local shm
// pool: the laptop case, with the code of the cluster case.
func Example() {
	ctx := context.Background()
	pool, err := cluster.NewPool(ctx, cluster.Config{LocalWorkers: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	out, err := cluster.Map(ctx, pool, cube, []int{1, 2, 3, 4})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	v, err := cluster.Apply(ctx, pool, cube, 10)
	fmt.Println(v, err)
	// Output:
	// [1 8 27 64]
	// 1000 <nil>
}

// A worker host's main: the same program as the coordinator, so it has the same functions.
func ExampleServe() {
	// func main() {
	//	procs.Main()
	ctx := context.Background()
	if err := cluster.Serve(ctx, "nats://10.0.0.5:4222", cluster.PoolName("primes")); err != nil {
		log.Fatal(err)
	}
}

// A coordinator whose embedded server takes workers over TCP.
func ExampleConfig_listen() {
	ctx := context.Background()
	pool, err := cluster.NewPool(ctx, cluster.Config{Listen: "0.0.0.0:4222", Name: "primes"})
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	fmt.Println("workers connect to", pool.URL())
}
