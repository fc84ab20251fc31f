#!/usr/bin/python3
"""A real SMTP server for the end-to-end tests (aiosmtpd, Debian's python3-aiosmtpd).

    smtp_sink.py PORT DIR

Listens on 127.0.0.1:PORT and writes every message it accepts into DIR as two files:
  msg-N.eml   the raw DATA exactly as received
  msg-N.txt   what a test checks, decoded by python's email module:
                rcpt: <envelope recipients, comma separated>
                mail_from: <envelope sender>
                key: <X-Helpdesk-Key header>
                subject: <Subject, RFC 2047 decoded>
                content_type: <Content-Type header>
                transfer_encoding: <Content-Transfer-Encoding header>
                received_ms: <wall clock milliseconds when the DATA arrived>
                <blank line>
                <body, transfer encoding and charset decoded>
The .txt appears last and atomically (rename), so a reader that sees it sees both complete.
Stops on SIGTERM or SIGINT."""
import email
import email.policy
import os
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out
        self.n = 0
        self.lock = threading.Lock()

    def _write(self, name, data):
        tmp = os.path.join(self.out, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.out, name))

    async def handle_DATA(self, server, session, envelope):
        received_ms = int(time.time() * 1000)
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        try:
            body = msg.get_content() if not msg.is_multipart() else ""
        except Exception as e:  # an undecodable body is the test's finding, not a crash here
            body = "UNDECODABLE BODY: %s" % e
        def one_line(v):
            return " ".join(str(v or "").split())
        text = (
            "rcpt: %s\nmail_from: %s\nkey: %s\nsubject: %s\ncontent_type: %s\n"
            "transfer_encoding: %s\nreceived_ms: %d\n\n%s"
            % (
                ",".join(envelope.rcpt_tos),
                envelope.mail_from,
                one_line(msg.get("X-Helpdesk-Key")),
                one_line(msg.get("Subject")),
                one_line(msg.get("Content-Type")),
                one_line(msg.get("Content-Transfer-Encoding")),
                received_ms,
                body,
            )
        )
        with self.lock:
            self.n += 1
            n = self.n
        self._write("msg-%d.eml" % n, raw)
        self._write("msg-%d.txt" % n, text.encode("utf-8"))
        return "250 Message accepted for delivery"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("smtp_sink: listening on 127.0.0.1:%d, writing to %s" % (port, out), flush=True)
    while not stop.wait(0.2):
        pass
    controller.stop()


if __name__ == "__main__":
    main()
