"""CPython's multiprocessing doing what shmkit bench's scenarios do, timed by Python itself.

Run by shmkit bench (bench/python.go) as: python3 peers.py SCENARIO [ARGS...]. Each scenario
prints one line: a number (the scenario's unit), or "skip REASON". The work matches the Go
side's: same counts, same checks on what moved.
"""
import multiprocessing as mp
import sys
import time


def noop(x):
    return x


def pool_task(chunk, n):
    with mp.Pool(2) as p:
        p.map(noop, range(1000))
        t = time.perf_counter()
        out = p.map(noop, range(n), chunksize=chunk)
        d = time.perf_counter() - t
        assert out[-1] == n - 1 and len(out) == n
        print(d / n * 1e9)


def child():
    pass


def start_join(n, method):
    ctx = mp.get_context(method or None)  # None: the default start method
    ctx.Process(target=child).start()  # warm the method (forkserver starts its server)
    d = []
    for _ in range(n):
        t = time.perf_counter()
        p = ctx.Process(target=child)
        p.start()
        p.join()
        d.append(time.perf_counter() - t)
        assert p.exitcode == 0
    print(" ".join("%d" % (x * 1e6) for x in d))  # every sample, in microseconds


def count_primes(r):
    lo, hi = r
    n = 0
    for x in range(max(lo, 2), hi):
        d = 2
        prime = True
        while d * d <= x:
            if x % d == 0:
                prime = False
                break
            d += 1
        if prime:
            n += 1
    return n


def primes_speedup(limit, chunks):
    ranges = [(i * limit // chunks, (i + 1) * limit // chunks) for i in range(chunks)]
    t = time.perf_counter()
    serial = sum(count_primes(r) for r in ranges)
    ts = time.perf_counter() - t
    with mp.Pool(2) as p:
        t = time.perf_counter()
        pooled = sum(p.map(count_primes, ranges, chunksize=1))
        tp = time.perf_counter() - t
    assert serial == pooled
    print(ts / tp)


def lock_ns(n):
    lock = mp.Lock()
    t = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    print((time.perf_counter() - t) / n * 1e9)


def dict_ops(op, n):
    with mp.Manager() as m:
        d = m.dict()
        for i in range(1000):
            d["k%d" % i] = "v" * 64
        t = time.perf_counter()
        if op == "get":
            for i in range(n):
                assert len(d["k%d" % (i % 1000)]) == 64
        else:
            for i in range(n):
                d["k%d" % (i % 1000)] = "w" * 64
        print(n / (time.perf_counter() - t))


if __name__ == "__main__":
    what, args = sys.argv[1], [int(a) for a in sys.argv[2:] if a.lstrip("-").isdigit()]
    if what == "pool_task":
        pool_task(*args)
    elif what == "start_join":
        start_join(args[0], sys.argv[3] if len(sys.argv) > 3 else "")
    elif what == "primes_speedup":
        primes_speedup(*args)
    elif what == "lock_ns":
        lock_ns(*args)
    elif what == "dict_get":
        dict_ops("get", *args)
    elif what == "dict_set":
        dict_ops("set", *args)
    else:
        print("skip no such scenario in peers.py: " + what)
