package ring

import (
	"encoding/binary"
	"fmt"
)

// A record in a Pipe's data region: an 8-byte header, then the payload, padded to 8 bytes.
//
//	0           4           8
//	+-----------+-----------+-----------------------------+
//	| length    | type      | payload, length bytes, pad  |
//	+-----------+-----------+-----------------------------+
//
// type recData carries length bytes. type recPad carries nothing and is skipped: one fills
// the rest of the region when the next record would not fit before the end, so every record
// is contiguous, and one goes before a payload of alignedPayload bytes or more so that the
// payload starts on a 64-byte boundary. A zero header (type 0) is the end of what is
// published: the writer zeroes the header after a record before it publishes the record, and
// publishes by storing the record's header last.
const (
	recordHeader = 8
	recData      = 1
	recPad       = 2

	alignedPayload = 4096 // payloads this long start on a lineAlign boundary (see reserve)
	lineAlign      = 64
)

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// parseRecord reads the record at offset off of data, which holds avail published bytes from
// there on (wrapping). It checks everything against the region before anything is trusted,
// so a corrupt header is an error, never a panic or a read out of bounds.
func parseRecord(data []byte, off, avail uint64) (n int, size uint64, pad bool, err error) {
	capacity := uint64(len(data))
	if off%8 != 0 || off+recordHeader > capacity || avail < recordHeader {
		return 0, 0, false, fmt.Errorf("%w: record header at %d with %d bytes published", ErrCorrupt, off, avail)
	}
	n, size, pad, err = parseHeader(binary.LittleEndian.Uint64(data[off:]), off, capacity)
	if err == nil && size > avail {
		return 0, 0, false, fmt.Errorf("%w: record of %d bytes at %d with %d bytes published", ErrCorrupt, size, off, avail)
	}
	return n, size, pad, err
}

// parseHeader checks the header h of the record at offset off (8-aligned, inside the region)
// of a capacity-byte region: the record must lie inside the region, contiguous.
func parseHeader(h, off, capacity uint64) (n int, size uint64, pad bool, err error) {
	length := h & 0xffffffff
	switch h >> 32 {
	case recPad:
		size = recordHeader + align8(length)
		if size != recordHeader+length || off+size > capacity {
			return 0, 0, false, fmt.Errorf("%w: padding of %d bytes at %d", ErrCorrupt, length, off)
		}
		return 0, size, true, nil
	case recData:
		size = recordHeader + align8(length)
		if length > capacity/2-recordHeader || off+size > capacity {
			return 0, 0, false, fmt.Errorf("%w: record of %d bytes at %d", ErrCorrupt, length, off)
		}
		return int(length), size, false, nil
	}
	return 0, 0, false, fmt.Errorf("%w: record type %d at %d", ErrCorrupt, h>>32, off)
}

func putHeader(data []byte, off uint64, length, typ uint32) {
	binary.LittleEndian.PutUint32(data[off:], length)
	binary.LittleEndian.PutUint32(data[off+4:], typ)
}
