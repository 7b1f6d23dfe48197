"""Captures the first /v1/messages body the real Claude Code CLI sends, then tells it to stop.

Usage: python3 capture.py PORT OUT.json  (serves on 127.0.0.1:PORT until one body is saved)
"""
import http.server
import json
import sys

port, out = int(sys.argv[1]), sys.argv[2]


class Capture(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.send_response(200)
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.startswith("/v1/messages") and not getattr(self.server, "saved", False):
            with open(out, "wb") as f:
                f.write(body)
            self.server.saved = True
        answer = json.dumps({"type": "error", "error": {
            "type": "invalid_request_error", "message": "captured"}}).encode()
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("x-should-retry", "false")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", port), Capture)
while not getattr(server, "saved", False):
    server.handle_request()
