// Boost.Interprocess message_queue doing what shmkit bench's stream and ping-pong scenarios
// do, between this process and a child it forks. Built by shmkit bench (bench/boost.go) when
// g++ and the Boost headers are present:
//
//   peer stream SIZE COUNT     prints messages per second, timed from the first message
//   peer pingpong SIZE COUNT   prints every round trip in nanoseconds, after a warm-up tenth
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

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: peer stream|pingpong SIZE COUNT\n");
        return 2;
    }
    const std::string mode = argv[1];
    const size_t size = std::strtoul(argv[2], nullptr, 10);
    const long count = std::strtol(argv[3], nullptr, 10);
    if (size < 9 || count < 2 || (mode != "stream" && mode != "pingpong")) {
        std::fprintf(stderr, "bad arguments\n");
        return 2;
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
