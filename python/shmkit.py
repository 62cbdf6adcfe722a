"""shmkit.py: shmkit's typed arrays from Python, with numpy and the standard library only.

attach(name) returns a writable numpy view of a shmkit array (ctypes.RawArray, Array or
Value, made in Go), with no copy. It maps the segment through SharedMemory without Python's
resource tracker: Python must never unlink a segment Go made (track=False from Python 3.13,
unregistered by hand before that).

create(name, shape, dtype) makes a .npy array in shared memory that Go opens with
ctypes.OpenRawArray[T](name), type-checked against its dtype. unlink(name) removes it.

The same files load with nothing but numpy: np.load('/dev/shm/NAME', mmap_mode='r+').
"""

import io
import os
import sys
from multiprocessing import resource_tracker, shared_memory

import numpy as np
from numpy.lib import format as npformat

SHM_DIR = "/dev/shm"

# The SharedMemory objects behind the views attach returned: a view must not outlive them.
_attached = {}


def _open_untracked(name):
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name, track=False)
    shm = shared_memory.SharedMemory(name)
    resource_tracker.unregister(shm._name, "shared_memory")  # attached, not owned
    return shm


def attach(name):
    """Returns a writable numpy array over the shmkit array called name (no copy)."""
    shm = _open_untracked(name)
    buf = shm.buf
    head = io.BytesIO(bytes(buf[:10]))
    version = npformat.read_magic(head)
    if version != (1, 0):
        raise ValueError(f"{name}: .npy version {version}, not 1.0")
    hlen = int.from_bytes(bytes(buf[8:10]), "little")
    head = io.BytesIO(bytes(buf[: 10 + hlen]))
    npformat.read_magic(head)
    shape, fortran, dtype = npformat.read_array_header_1_0(head)
    arr = np.ndarray(shape, dtype=dtype, buffer=buf, offset=10 + hlen, order="F" if fortran else "C")
    _attached.setdefault(name, []).append(shm)
    return arr


def create(name, shape, dtype):
    """Makes the .npy array called name in shared memory and returns it, zeroed and writable."""
    path = os.path.join(SHM_DIR, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)  # never replace a segment
    os.close(fd)
    arr = npformat.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    try:
        os.setxattr(path, "user.shmkit", b"raw")  # shmkit lists and removes it as its own
    except OSError:
        pass  # a filesystem without user xattrs: shmkit just will not list it
    return arr


def unlink(name):
    """Removes the array's name; processes that have it mapped keep it."""
    os.unlink(os.path.join(SHM_DIR, name))
