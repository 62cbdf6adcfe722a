package nontemporal

// Available reports whether Record's stores are non-temporal here.
const Available = true

// Record writes a record at hdr with non-temporal stores: n bytes from src at hdr+8 (the
// last word padded with zeros), a zero word after them (at hdr+8+n rounded up to 8), and h at
// hdr; then, if written is not nil, it stores pos at written with a plain store, after the
// others in program order (not in visibility: that needs Fence or a barrier). hdr must be 8-byte aligned, and the
// bytes up to the zero word writable.
//
//go:noescape
func Record(hdr *uint64, h uint64, src *byte, n uintptr, written *uint64, pos uint64)

// Fence makes every store before it visible before any store after it (SFENCE).
func Fence()
