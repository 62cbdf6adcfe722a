// Boost.Interprocess message_queue doing what shmkit bench's stream and ping-pong scenarios
// do, between this process and a child it forks. Built by shmkit bench (bench/boost.go) when
// g++ and the Boost headers are present:
//
//   peer stream SIZE COUNT     prints messages per second, timed from the first message
//   peer pingpong SIZE COUNT   prints every round trip in nanoseconds, after a warm-up tenth
//   peer mpmc SIZE COUNT       two producer and two consumer processes on one queue of 4096,
//                              COUNT messages per producer; prints messages per second
//
// Every message carries its sequence number and a fill byte, checked on receipt.
#include <boost/interprocess/ipc/message_queue.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using namespace boost::interprocess;
using clk = std::chrono::steady_clock;

static void fill(char *m, size_t n, uint64_t i) {
    std::memcpy(m, &i, 8);
    m[n - 1] = static_cast<char>(i);
}

static bool check(const char *m, size_t n, uint64_t i) {
    uint64_t v;
    std::memcpy(&v, m, 8);
    return v == i && m[n - 1] == static_cast<char>(i);
}

// mpmc runs the 2+2 scenario on the queue called name: consumers first, then the clock and
// the producers; a message with sequence number ~0 stops a consumer, which reports its count
// and sum through a pipe. Returns the process's exit status.
static int mpmc(const std::string &name, size_t size, long count) {
    message_queue q(create_only, name.c_str(), 4096, size);
    int fds[2];
    if (pipe(fds) != 0) {
        throw std::runtime_error("pipe failed");
    }
    std::vector<pid_t> kids;
    for (int c = 0; c < 2; c++) {
        pid_t pid = fork();
        if (pid < 0) {
            throw std::runtime_error("fork failed");
        }
        if (pid == 0) {
            std::vector<char> m(size);
            message_queue::size_type got;
            unsigned prio;
            uint64_t n = 0, sum = 0, v;
            for (;;) {
                q.receive(m.data(), size, got, prio);
                std::memcpy(&v, m.data(), 8);
                if (v == ~uint64_t(0)) {
                    break;
                }
                if (got != size || !check(m.data(), size, v)) {
                    _exit(3);
                }
                n++;
                sum += v;
            }
            uint64_t out[2] = {n, sum};
            _exit(write(fds[1], out, sizeof out) == sizeof out ? 0 : 4);
        }
        kids.push_back(pid);
    }
    usleep(20000); // consumers up
    const auto start = clk::now();
    std::vector<pid_t> producers;
    for (int p = 0; p < 2; p++) {
        pid_t pid = fork();
        if (pid < 0) {
            throw std::runtime_error("fork failed");
        }
        if (pid == 0) {
            std::vector<char> m(size);
            for (long i = p * count; i < (p + 1) * count; i++) {
                fill(m.data(), size, i);
                q.send(m.data(), size, 0);
            }
            _exit(0);
        }
        producers.push_back(pid);
    }
    int status = 0, ws;
    for (pid_t pid : producers) {
        waitpid(pid, &ws, 0);
        status |= !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    std::vector<char> stop(size, 0);
    std::memset(stop.data(), 0xff, 8);
    for (int c = 0; c < 2; c++) {
        q.send(stop.data(), size, 0);
    }
    for (pid_t pid : kids) {
        waitpid(pid, &ws, 0);
        status |= !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    const double secs = std::chrono::duration<double>(clk::now() - start).count();
    uint64_t total = 0, sum = 0, r[2];
    for (int c = 0; c < 2; c++) {
        if (read(fds[0], r, sizeof r) != sizeof r) {
            throw std::runtime_error("a consumer did not report");
        }
        total += r[0];
        sum += r[1];
    }
    const uint64_t n = 2 * uint64_t(count);
    if (status != 0 || total != n || sum != n * (n - 1) / 2) {
        throw std::runtime_error("consumers got " + std::to_string(total) + " messages, want " + std::to_string(n));
    }
    std::printf("%.1f\n", n / secs);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: peer stream|pingpong|mpmc SIZE COUNT\n");
        return 2;
    }
    const std::string mode = argv[1];
    const size_t size = std::strtoul(argv[2], nullptr, 10);
    const long count = std::strtol(argv[3], nullptr, 10);
    if (size < 9 || count < 2 || (mode != "stream" && mode != "pingpong" && mode != "mpmc")) {
        std::fprintf(stderr, "bad arguments\n");
        return 2;
    }
    if (mode == "mpmc") {
        const std::string name = "shmkit-bench-boost-" + std::to_string(getpid()) + "-q";
        message_queue::remove(name.c_str());
        int status = 1;
        try {
            status = mpmc(name, size, count);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "peer: %s\n", e.what());
        }
        message_queue::remove(name.c_str());
        return status;
    }
    const std::string base = "shmkit-bench-boost-" + std::to_string(getpid());
    const std::string there = base + "-a", back = base + "-b";
    message_queue::remove(there.c_str());
    message_queue::remove(back.c_str());
    int status = 1;
    try {
        message_queue qa(create_only, there.c_str(), mode == "stream" ? 1024 : 4, size);
        message_queue qb(create_only, back.c_str(), 4, size);
        pid_t pid = fork();
        if (pid < 0) {
            throw std::runtime_error("fork failed");
        }
        std::vector<char> m(size);
        message_queue::size_type got;
        unsigned prio;
        if (pid == 0) {
            for (long i = 0; i < count; i++) {
                if (mode == "stream") {
                    fill(m.data(), size, i);
                    qa.send(m.data(), size, 0);
                } else {
                    qa.receive(m.data(), size, got, prio);
                    qb.send(m.data(), got, 0);
                }
            }
            _exit(0);
        }
        if (mode == "stream") {
            clk::time_point start;
            for (long i = 0; i < count; i++) {
                qa.receive(m.data(), size, got, prio);
                if (i == 0) {
                    start = clk::now();
                }
                if (got != size || !check(m.data(), size, i)) {
                    throw std::runtime_error("message " + std::to_string(i) + " arrived wrong");
                }
            }
            const double secs = std::chrono::duration<double>(clk::now() - start).count();
            std::printf("%.1f\n", (count - 1) / secs);
        } else {
            std::vector<char> r(size);
            const long warm = std::min(count / 10, 1000L);
            std::string out;
            for (long i = 0; i < count; i++) {
                fill(m.data(), size, i);
                const auto t = clk::now();
                qa.send(m.data(), size, 0);
                qb.receive(r.data(), size, got, prio);
                const long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now() - t).count();
                if (got != size || !check(r.data(), size, i)) {
                    throw std::runtime_error("round trip " + std::to_string(i) + " came back wrong");
                }
                if (i >= warm) {
                    out += std::to_string(ns);
                    out += ' ';
                }
            }
            std::printf("%s\n", out.c_str());
        }
        int ws;
        waitpid(pid, &ws, 0);
        status = (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) ? 0 : 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "peer: %s\n", e.what());
        status = 1;
    }
    message_queue::remove(there.c_str());
    message_queue::remove(back.c_str());
    return status;
}
