# SPDX-License-Identifier: ISC
"""A real SMTP server on loopback (aiosmtpd), keeping every message it
accepts, parsed, for the notice tests."""

import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.sink.lock:
            refused = address in self.sink.refuse
        if refused:
            # As real relays answer: the address quoted back.
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


class SmtpSink:
    """SmtpSink(port).start() accepts mail on 127.0.0.1:port until stop()."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.messages = []
        self.refuse = set()     # recipients answered 550
        self.lock = threading.Lock()
        self.controller = None

    def start(self):
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def received(self):
        with self.lock:
            return list(self.messages)

    def config(self):
        # A long timeout: on a loaded machine the sink's thread can answer
        # late, and a timeout after it took a message sends the message again.
        return {"url": f"smtp://127.0.0.1:{self.port}", "from": "rally@rally.test",
                "starttls": "off", "timeout": "15s"}
