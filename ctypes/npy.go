package ctypes

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// An array segment's payload starts with a .npy version 1.0 header, so the file is an array
// numpy can load with nothing but numpy:
//
//	0      6     7     8       10                               npyLen (a multiple of 64)
//	+------+-----+-----+-------+--------------------------------+
//	|\x93NUMPY| 1 |  0  | hlen  | {'descr': …, 'fortran_order':  |
//	|      |     |     | (u16) | False, 'shape': (n,), } ␣…␣\n  |
//	+------+-----+-----+-------+--------------------------------+
//
// The data follows at npyLen (64-byte aligned: good for numpy, Arrow and SIMD alike).

const npyAlign = 64

var npyMagic = []byte("\x93NUMPY\x01\x00")

// descrOf returns numpy's descr for t: a type string such as '<f8' for a number, or a list of
// (name, descr[, shape]) fields for a struct, with '|Vn' padding where Go pads.
func descrOf(t reflect.Type) (string, error) {
	switch t.Kind() {
	case reflect.Bool:
		return "'|b1'", nil
	case reflect.Int8:
		return "'|i1'", nil
	case reflect.Uint8:
		return "'|u1'", nil
	case reflect.Int16, reflect.Int32, reflect.Int64:
		return "'<i" + strconv.Itoa(int(t.Size())) + "'", nil
	case reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "'<u" + strconv.Itoa(int(t.Size())) + "'", nil
	case reflect.Float32, reflect.Float64:
		return "'<f" + strconv.Itoa(int(t.Size())) + "'", nil
	case reflect.Complex64, reflect.Complex128:
		return "'<c" + strconv.Itoa(int(t.Size())) + "'", nil
	case reflect.Struct:
		return structDescr(t)
	}
	return "", fmt.Errorf("%w: %s has no numpy type", ErrInvalid, t)
}

// fieldDescr is one entry of a struct's descr: its type and, for a fixed array, its shape.
func fieldDescr(t reflect.Type) (string, error) {
	var shape []string
	for t.Kind() == reflect.Array {
		shape = append(shape, strconv.Itoa(t.Len()))
		t = t.Elem()
	}
	d, err := descrOf(t)
	if err != nil || len(shape) == 0 {
		return d, err
	}
	return d + ", (" + strings.Join(shape, ", ") + ",)", nil
}

func structDescr(t reflect.Type) (string, error) {
	var parts []string
	var at uintptr
	padTo := func(off uintptr) {
		if off > at {
			parts = append(parts, fmt.Sprintf("('', '|V%d')", off-at))
		}
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		padTo(f.Offset)
		d, err := fieldDescr(f.Type)
		if err != nil {
			return "", err
		}
		name := f.Name
		if name == "_" {
			name = fmt.Sprintf("_%d", i)
		}
		parts = append(parts, fmt.Sprintf("('%s', %s)", name, d))
		at = f.Offset + f.Type.Size()
	}
	padTo(t.Size())
	return "[" + strings.Join(parts, ", ") + "]", nil
}

// npyHeader is the .npy header for count elements of t ((count,) shape, or () for a scalar),
// padded with spaces so the data starts on a 64-byte boundary. An element that is itself a
// fixed array adds its dimensions to the shape: [3]float64 × n is numpy's (n, 3) of '<f8'.
func npyHeader(t reflect.Type, count int, scalar bool) ([]byte, error) {
	var dims []string
	if !scalar {
		dims = append(dims, strconv.Itoa(count))
	}
	for t.Kind() == reflect.Array {
		dims = append(dims, strconv.Itoa(t.Len()))
		t = t.Elem()
	}
	d, err := descrOf(t)
	if err != nil {
		return nil, err
	}
	shape := "()"
	switch len(dims) {
	case 0:
	case 1:
		shape = "(" + dims[0] + ",)"
	default:
		shape = "(" + strings.Join(dims, ", ") + ")"
	}
	dict := "{'descr': " + d + ", 'fortran_order': False, 'shape': " + shape + ", }"
	total := len(npyMagic) + 2 + len(dict) + 1
	total = (total + npyAlign - 1) / npyAlign * npyAlign
	b := make([]byte, 0, total)
	b = append(b, npyMagic...)
	b = binary.LittleEndian.AppendUint16(b, uint16(total-len(npyMagic)-2))
	b = append(b, dict...)
	b = append(b, bytes.Repeat([]byte{' '}, total-len(b)-1)...)
	return append(b, '\n'), nil
}

// npyLen returns the length of the .npy header at the start of b, checking its magic.
func npyLen(b []byte) (int, error) {
	if len(b) < len(npyMagic)+2 || !bytes.Equal(b[:len(npyMagic)], npyMagic) {
		return 0, fmt.Errorf("%w: not a .npy version 1.0 header", ErrCorrupt)
	}
	n := len(npyMagic) + 2 + int(binary.LittleEndian.Uint16(b[len(npyMagic):]))
	if n > len(b) || n%npyAlign != 0 {
		return 0, fmt.Errorf("%w: .npy header of %d bytes in %d", ErrCorrupt, n, len(b))
	}
	return n, nil
}
