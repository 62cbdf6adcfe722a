// Package bench will hold the benchmark scenarios and report that "go test -bench" and
// "shmkit bench" share. Until the issue that builds it lands, each package's benchmarks live
// in its _test.go files; see README.md for the figures.
package bench
