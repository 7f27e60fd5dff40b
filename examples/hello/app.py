#!/usr/bin/env python3
"""The hello example service for hoist: Python 3 standard library only.

Listens on 127.0.0.1:$PORT (required).
  GET /        200 "<GREETING> from <HOIST_RELEASE>: <message.txt>"
  GET /health  200 "ok", or 503 while a file `unhealthy` exists next to this script
  GET /config  which settings arrived: GREETING, and whether SECRET_TOKEN is set (its
               SHA-256, never its value)
Logs one line per request to stderr; SIGTERM shuts it down cleanly.
"""

import hashlib
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


def log(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def message():
    try:
        with open(os.path.join(HERE, "message.txt"), encoding="utf-8") as file:
            return file.read().strip() or "hello"
    except FileNotFoundError:
        return "hello"


def release():
    return os.environ.get("HOIST_RELEASE", "unknown")


def greeting():
    return os.environ.get("GREETING", "hello")


def secret_summary():
    token = os.environ.get("SECRET_TOKEN")
    if token is None:
        return "unset"
    return "set (sha256 " + hashlib.sha256(token.encode()).hexdigest() + ")"


class Handler(BaseHTTPRequestHandler):
    server_version = "hello/1"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            self.answer(200, f"{greeting()} from {release()}: {message()}")
        elif path == "/health":
            if os.path.exists(os.path.join(HERE, "unhealthy")):
                self.answer(503, "unhealthy")
            else:
                self.answer(200, "ok")
        elif path == "/config":
            self.answer(
                200, f"greeting: {greeting()}\nsecret_token: {secret_summary()}"
            )
        else:
            self.answer(404, "not found")

    def answer(self, status, text):
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        log(f"{self.address_string()} {format % args}")


def main():
    port = os.environ.get("PORT")
    if not port or not port.isdigit():
        log("error: the PORT environment variable must be set to a port number")
        return 2
    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    server.daemon_threads = True

    def on_sigterm(signum, frame):
        log("SIGTERM received, shutting down")
        # shutdown() waits for serve_forever to return, so it cannot run on this thread.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    log(f"listening on 127.0.0.1:{port} (release {release()})")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
