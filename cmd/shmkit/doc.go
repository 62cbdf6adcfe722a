// Command shmkit inspects and reclaims shmkit segments.
//
//	shmkit ls [--json]                        list segments: kind, size, creator, attached, state
//	shmkit info [--json] NAME                 decode one segment's header
//	shmkit rm NAME...                         remove segments by name
//	shmkit gc [--dry-run] [--prefix P] [--json]   remove segments no live process holds
//
// Human-readable output by default; --json prints one JSON object per line.
package main
