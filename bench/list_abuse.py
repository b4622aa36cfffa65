#!/usr/bin/env python3
"""List-abuse benchmark: peak memory of the server while a client asks for many aliased copies
of long lists (issue 7, item 5). Seeds one business with 200 comments of 5,000 characters, then
sends the hostile query (150 aliases of `businesses { comments { text } }`) and the largest
query the complexity limit still lets through, and prints each answer's size and the server's
peak RSS (VmHWM) before and after.

Usage: python3 bench/list_abuse.py [path/to/release/binary]
Builds nothing: run `cargo build --release` first. Talks only to 127.0.0.1.
"""
import json, os, socket, subprocess, sys, tempfile

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/crm-impersonation"


def start():
    d = tempfile.mkdtemp()
    p = subprocess.Popen([os.path.abspath(BIN)], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env={**os.environ, "BIND_ADDR": "127.0.0.1:0", "SEED_DEMO": "false", "RUST_LOG": "error"})
    for line in p.stdout:
        if line.startswith("CRM API listening on http://127.0.0.1:"):
            return p, int(line.rsplit(":", 1)[1])
    raise SystemExit("server did not start")


def gql(port, query, variables=None, token=None):
    data = json.dumps({"query": query, "variables": variables or {}}).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    s = socket.create_connection(("127.0.0.1", port), timeout=300)
    s.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
              + auth.encode() + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    out = b""
    while chunk := s.recv(1 << 20):
        out += chunk
    s.close()
    body = out.split(b"\r\n\r\n", 1)[1]
    if b"transfer-encoding: chunked" in out.split(b"\r\n\r\n", 1)[0].lower():
        raw, body = body, b""
        while raw:
            n, raw = raw.split(b"\r\n", 1)
            n = int(n, 16)
            if n == 0:
                break
            body, raw = body + raw[:n], raw[n + 2:]
    return body


def hwm_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024


def main():
    p, port = start()
    try:
        reg = json.loads(gql(port, 'mutation { register(input: {email: "ann@example.com", password: "correct-horse-1", name: "Ann"}) { accessToken } }'))
        token = reg["data"]["register"]["accessToken"]
        b = json.loads(gql(port, 'mutation { createBusiness(name: "Acme") { id } }', token=token))["data"]["createBusiness"]["id"]
        text = "x" * 5000
        for _ in range(200):
            gql(port, "mutation($b: ID!, $t: String!) { addBusinessComment(businessId: $b, text: $t) { id } }",
                {"b": b, "t": text}, token)
        print(f"seeded: 200 comments of 5,000 characters; peak RSS so far {hwm_mib(p.pid):.1f} MiB")
        cases = [
            ("150 aliases of businesses { comments { text } }",
             "{ " + " ".join(f"a{i}: businesses {{ comments {{ text }} }}" for i in range(150)) + " }"),
            ("largest allowed: 98 aliases of business(id) { comments(first: 100) { text } }",
             "query($b: ID!) { " + " ".join(f"a{i}: business(id: $b) {{ comments(first: 100) {{ text }} }}" for i in range(98)) + " }"),
        ]
        for name, q in cases:
            before = hwm_mib(p.pid)
            body = gql(port, q, {"b": b}, token)
            v = json.loads(body)
            outcome = v["errors"][0]["message"][:60] if v.get("errors") else "answered"
            print(f"{name}: {len(body) / 1e6:.1f} MB answer ({outcome}); peak RSS {before:.1f} -> {hwm_mib(p.pid):.1f} MiB")
    finally:
        p.kill()


if __name__ == "__main__":
    main()
