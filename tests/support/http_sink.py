#!/usr/bin/python3
"""A local HTTP receiver for the end-to-end tests (python3 http.server).

    http_sink.py PORT DIR

Listens on 127.0.0.1:PORT; every POST is answered 200 and its body written to DIR/post-N.json
(atomically: written under a temporary name, then renamed). Stops on SIGTERM or SIGINT."""
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # answers "Expect: 100-continue" at once

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        srv = self.server
        with srv.lock:
            srv.count += 1
            k = srv.count
        tmp = os.path.join(srv.out, ".post-%d.tmp" % k)
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, os.path.join(srv.out, "post-%d.json" % k))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.out, srv.count, srv.lock = out, 0, threading.Lock()
    stop = lambda *_: threading.Thread(target=srv.shutdown).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("http_sink: listening on 127.0.0.1:%d, writing to %s" % (port, out), flush=True)
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    main()
