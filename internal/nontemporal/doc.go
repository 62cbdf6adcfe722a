// Package nontemporal writes records around the cache: x86's non-temporal stores (MOVNTI),
// which go to memory through the write-combining buffers without first taking the line from
// the core that read it a lap ago.
//
// Such stores are weakly ordered: another core may see a later store (a record's header)
// before an earlier one (its payload), and a line left partly written stays in its buffer
// until something drains it; Fence (SFENCE) orders every store before it ahead of every store
// after it. Package ring's Writer uses it only when buffered (Writer.SetBuffer), where a
// record is published by a store after a Fence, never by these stores: nothing another process
// can do is known to drain a writer's buffers (see pipeShared there). Ring's floor benchmark
// (BenchmarkSPSC64/impl=raw-floor-around) uses it too.
//
// Available is true on amd64; elsewhere Record is plain stores and Fence does nothing.
package nontemporal
