package sem

import (
	"fmt"
	"time"

	"github.com/shmkit/shmkit/shm"

	"github.com/shmkit/shmkit/internal/object"
)

// The segments the constructors make: kind "sem.<Type>", layout "sem.<Type>/v3 size=N", the
// object at offset 0, set up before any other process can see it.

func spec[T Object](typ string, init func(*T) error) object.Spec {
	return object.Spec{
		Kind:   typ,
		Layout: fmt.Sprintf("%s/v3 size=%d", typ, Sizeof[T]()),
		Size:   Sizeof[T](),
		Init: func(b []byte) error {
			p, err := At[T](b, 0)
			if err == nil && init != nil {
				err = init(p)
			}
			return err
		},
	}
}

func specMutex(int) object.Spec  { return spec[Mutex](typeMutex, nil) }
func specRMutex(int) object.Spec { return spec[RMutex](typeRMutex, nil) }
func specCond(int) object.Spec   { return spec[Cond](typeCond, nil) }
func specEvent(int) object.Spec  { return spec[Event](typeEvent, nil) }

func specSemaphore(n int) object.Spec {
	return spec(typeSemaphore, func(s *Semaphore) error {
		s.count = uint32(n) // before publication: no other process sees it yet
		return nil
	})
}

func specBoundedSemaphore(n int) object.Spec {
	return spec(typeBoundedSemaphore, func(b *BoundedSemaphore) error { return b.Init(n) })
}

func specBarrier(parties int, opts []shm.Option) object.Spec {
	return spec(typeBarrier, func(b *Barrier) error {
		if parties == 0 {
			return nil // opening: the spec is only compared, never run
		}
		if a, ok := shm.SettingOf[*BarrierAction](opts, actionKey{}); ok {
			b.SetAction(a)
		}
		if d, ok := shm.SettingOf[time.Duration](opts, timeoutKey{}); ok {
			if err := b.SetTimeout(d); err != nil {
				return err
			}
		}
		return b.Init(parties)
	})
}
