package plain

import (
	"reflect"
	"strings"
	"testing"
)

type point struct {
	X, Y float64
	Tag  [4]uint8
}

type particle struct {
	P    point
	Tags []string
}

type withInt struct {
	A int32
	N int
}

func TestDescribe(t *testing.T) {
	d, err := Describe(reflect.TypeFor[point]())
	if err != nil || d != "struct{float64@0;float64@8;[4]uint8@16}@24" {
		t.Fatalf("%q %v", d, err)
	}
	if d2, _ := Describe(reflect.TypeFor[struct {
		A, B float64
		C    [4]byte
	}]()); d2 != d {
		t.Fatalf("the same bytes under other names: %q", d2)
	}
	for _, c := range []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[particle](), "particle.Tags: slice"},
		{reflect.TypeFor[withInt](), "withInt.N: int, whose size depends on the architecture (use int64 or int32)"},
		{reflect.TypeFor[[2]uintptr](), "[2]uintptr[]: uintptr, whose size depends on the architecture (use uint64 or uint32)"},
		{reflect.TypeFor[string](), "string: string"},
		{reflect.TypeFor[*point](), "*plain.point: ptr"},
	} {
		if err := Check(c.typ); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.typ, err, c.want)
		}
	}
	h1, _ := Hash(reflect.TypeFor[int64]())
	h2, _ := Hash(reflect.TypeFor[float64]())
	if h1 == h2 {
		t.Fatal("int64 and float64 hash alike")
	}
}
