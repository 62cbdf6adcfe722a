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


def _fill(i, size):
    return i.to_bytes(8, "little") + bytes(size - 9) + bytes([i & 0xFF])


def _check(m, i, size):
    assert len(m) == size and int.from_bytes(m[:8], "little") == i and m[-1] == i & 0xFF, i


def _stream_child(conn, size, count):
    for i in range(count):
        conn.send_bytes(_fill(i, size))
    conn.close()


def stream(size, count):
    r, w = mp.Pipe(duplex=False)
    p = mp.Process(target=_stream_child, args=(w, size, count))
    p.start()
    w.close()
    start = None
    for i in range(count):
        m = r.recv_bytes()
        if i == 0:
            start = time.perf_counter()
        _check(m, i, size)
    d = time.perf_counter() - start
    p.join()
    print((count - 1) / d)


def _echo_child(conn, count):
    for _ in range(count):
        conn.send_bytes(conn.recv_bytes())


def pingpong(size, count):
    a, b = mp.Pipe()
    p = mp.Process(target=_echo_child, args=(b, count))
    p.start()
    warm = min(count // 10, 1000)
    out = []
    for i in range(count):
        m = _fill(i, size)
        t = time.perf_counter_ns()
        a.send_bytes(m)
        back = a.recv_bytes()
        d = time.perf_counter_ns() - t
        _check(back, i, size)
        if i >= warm:
            out.append(d)
    p.join()
    print(" ".join(str(x) for x in out))


def _bulk_child(conn, count):
    msg = bytearray(1 << 20)
    for i in range(count):
        msg[:8] = i.to_bytes(8, "little")
        msg[-1] = i & 0xFF
        conn.send_bytes(msg)
    conn.close()


def bulk(count):
    r, w = mp.Pipe(duplex=False)
    p = mp.Process(target=_bulk_child, args=(w, count))
    p.start()
    w.close()
    start = None
    for i in range(count):
        m = r.recv_bytes()
        if i == 0:
            start = time.perf_counter()
        _check(m, i, 1 << 20)
    d = time.perf_counter() - start
    p.join()
    print((count - 1) * (1 << 20) / d / 1e9)


def _sem_child(ping, pong, count):
    for _ in range(count):
        ping.acquire()
        pong.release()


def sem_handoff(count):
    ping, pong = mp.Semaphore(0), mp.Semaphore(0)
    p = mp.Process(target=_sem_child, args=(ping, pong, count))
    p.start()
    warm = min(count // 10, 1000)
    out = []
    for i in range(count):
        t = time.perf_counter_ns()
        ping.release()
        pong.acquire()
        if i >= warm:
            out.append(time.perf_counter_ns() - t)
    p.join()
    print(" ".join(str(x) for x in out))


def _count_child(lock, value, start, n, with_lock):
    start.wait()
    if with_lock:
        for _ in range(n):
            with lock:
                value.value += 1
    else:
        for _ in range(n):
            with value.get_lock():
                value.value += 1


def two_counters(n, with_lock):
    lock = mp.Lock()
    value = mp.Value("q", 0, lock=not with_lock)
    start = mp.Event()
    ps = [mp.Process(target=_count_child, args=(lock, value, start, n, with_lock)) for _ in range(2)]
    for p in ps:
        p.start()
    time.sleep(0.2)
    t = time.perf_counter()
    start.set()
    for p in ps:
        p.join()
    d = time.perf_counter() - t
    assert value.value == 2 * n, value.value
    return d


def _producer(q, lo, n):
    for i in range(lo, lo + n):
        q.put(i.to_bytes(8, "little") + bytes(56))


def _consumer(q, out):
    count = total = 0
    while True:
        m = q.get()
        if m is None:
            break
        count += 1
        total += int.from_bytes(m[:8], "little")
    out.put((count, total))


def mpmc(n):
    q, out = mp.Queue(1024), mp.Queue()
    cons = [mp.Process(target=_consumer, args=(q, out)) for _ in range(2)]
    for c in cons:
        c.start()
    t = time.perf_counter()
    prods = [mp.Process(target=_producer, args=(q, k * n, n)) for k in range(2)]
    for p in prods:
        p.start()
    for p in prods:
        p.join()
    q.put(None)
    q.put(None)
    got = [out.get(), out.get()]
    for c in cons:
        c.join()
    d = time.perf_counter() - t
    assert sum(c for c, _ in got) == 2 * n and sum(s for _, s in got) == (2 * n) * (2 * n - 1) // 2
    print(2 * n / d)


def dict_mix(n):
    with mp.Manager() as m:
        d = m.dict()
        for i in range(1000):
            d["k%d" % i] = "v" * 64
        t = time.perf_counter()
        for i in range(n):
            if i % 100 < 98:
                assert len(d["k%d" % (i % 1000)]) == 64
            else:
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
    elif what == "dict_mix":
        dict_mix(*args)
    elif what == "stream":
        stream(*args)
    elif what == "pingpong":
        pingpong(*args)
    elif what == "bulk":
        bulk(*args)
    elif what == "sem_handoff":
        sem_handoff(*args)
    elif what == "mutex_contended":
        n = args[0]
        print(2 * n / two_counters(n, True))
    elif what == "value_add":
        n = args[0]
        print(two_counters(n, False) / (2 * n) * 1e9)
    elif what == "mpmc":
        mpmc(*args)
    else:
        print("skip no such scenario in peers.py: " + what)
