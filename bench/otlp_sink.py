#!/usr/bin/env python3
"""An OTLP/HTTP sink for the benchmark: answers every POST 200 and counts the bytes, so the
server's exporter runs as it would against a collector. Usage: otlp_sink.py PORT"""
import http.server
import sys


class Sink(http.server.BaseHTTPRequestHandler):
    received = 0

    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        Sink.received += len(self.rfile.read(n))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
