#!/usr/bin/env python3
"""Login-flood benchmark: peak memory of the server and latency of other requests while many
clients send logins with ~900 KB passwords at once.

Usage: python3 bench/login_flood.py [path/to/release/binary] [concurrency ...]
Builds nothing: run `cargo build --release` first. Talks only to 127.0.0.1.
"""
import json, os, socket, subprocess, sys, tempfile, threading, time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/crm-impersonation"
PERMITS = [int(a) for a in sys.argv[2:]] or [2, 64]
CLIENTS, ROUNDS = 64, 3
PASSWORD = "p" * int(os.environ.get("PASSWORD_BYTES", 900 * 1024))


def start(permits):
    d = tempfile.mkdtemp()
    p = subprocess.Popen([os.path.abspath(BIN)], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env={**os.environ, "BIND_ADDR": "127.0.0.1:0", "SEED_DEMO": "false", "RUST_LOG": "error",
                              "PASSWORD_HASH_CONCURRENCY": str(permits), "MAX_FAILED_ATTEMPTS": "1000000"})
    for line in p.stdout:
        if line.startswith("CRM API listening on http://127.0.0.1:"):
            return p, int(line.rsplit(":", 1)[1])
    raise SystemExit("server did not start")


def post(port, body, timeout=120):
    data = json.dumps(body).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
              + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    return out


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field))


def run(permits):
    p, port = start(permits)
    idle = rss_kib(p.pid, "VmRSS:")
    stop, lat = False, []

    def probe():
        while not stop:
            t = time.monotonic()
            post(port, {"query": "{ __typename }"})
            lat.append(time.monotonic() - t)
            time.sleep(0.05)

    pr = threading.Thread(target=probe)
    pr.start()
    t0 = time.monotonic()
    for _ in range(ROUNDS):
        q = {"query": "mutation($p: String!) { login(email: \"a@example.com\", password: $p) { accessToken } }",
             "variables": {"p": PASSWORD}}
        ts = [threading.Thread(target=post, args=(port, q)) for _ in range(CLIENTS)]
        [t.start() for t in ts]
        [t.join() for t in ts]
    took = time.monotonic() - t0
    stop = True
    pr.join()
    peak = rss_kib(p.pid, "VmHWM:")
    p.terminate()
    p.wait()
    lat.sort()
    p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
    p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")
    print(f"hash permits {permits:>3}: {CLIENTS * ROUNDS} logins of 900 KB in {took:.1f}s; "
          f"RSS idle {idle / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB; "
          f"other requests p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(lat)} probes)")


for n in PERMITS:
    run(n)
