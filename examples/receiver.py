#!/usr/bin/env python3
"""A webhook receiver to try hookpost with: it checks both signatures of every request
(examples/verify_webhook.py) and answers 204 when they hold, 401 when they do not.

    python3 examples/receiver.py PORT SECRET

It listens on 127.0.0.1:PORT and prints one line per request. Standard library only.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify_webhook import verify  # noqa: E402

SECRET = sys.argv[2] if len(sys.argv) > 2 else ""


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ok = verify(SECRET, dict(self.headers.items()), body)
        event = json.loads(body).get("event", "?") if ok else "?"
        verdict = "verified" if ok else "BAD SIGNATURE"
        print(
            f"receiver: {self.headers.get('webhook-id')} {event} "
            f"attempt {self.headers.get('X-Hook-Attempt')}: {verdict}",
            flush=True,
        )
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass  # one line per request is printed above


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver)
    print(f"receiver: listening on http://127.0.0.1:{sys.argv[1]}/", flush=True)
    server.serve_forever()
