# SPDX-License-Identifier: ISC
"""Command line entry: parse options, build the state, routes, push sender and server, print
where it listens, and serve until SIGTERM/SIGINT."""

import argparse
import os
import signal
import ssl
import sys
import threading

from . import admin, batch, calendar_api, gmail_api, oauth
from .dispatch import dispatch
from .push import PushSender
from .routes import Router
from .server import Server
from .state import State


def build_router(state):
    router = Router()
    router.extend(oauth.ROUTES)
    router.extend(calendar_api.ROUTES)
    router.extend(gmail_api.ROUTES)

    def record(req, status, route, batch=False):
        with state.lock:
            state.log.record(req.method, req.path, req.query, status, route, batch=batch)
    router.extend(batch.routes(router, dispatch, record))
    router.extend(admin.ROUTES)
    router.add(admin.Route("GET", "routes", admin.routes_handler(router), "admin", root="/__admin/"))
    return router


def parse_args(argv):
    p = argparse.ArgumentParser(prog="fakegoogle", description="Google OAuth/Calendar/Gmail emulator")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    p.add_argument("--port-file", help="write the chosen port to this file once listening")
    p.add_argument("--cert", help="server certificate (PEM) for HTTPS")
    p.add_argument("--key", help="server private key (PEM) for HTTPS")
    p.add_argument("--http", action="store_true", help="serve plain HTTP (no --cert/--key)")
    p.add_argument("--seed", type=int, default=0, help="seed for ids, tokens and generated data")
    p.add_argument("--push-ca", help="CA file to verify https push receivers (e.g. the test CA)")
    p.add_argument("--push-insecure", action="store_true",
                   help="do not verify https push receivers' certificates")
    args = p.parse_args(argv)
    if not args.http and not (args.cert and args.key):
        p.error("--cert and --key are required unless --http is given")
    if not 0 <= args.port <= 65535:
        p.error("--port must be within 0..65535")
    return args


def server_context(args):
    if args.http:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.cert, args.key)
    context.set_alpn_protocols(["http/1.1"])
    return context


def push_context(args):
    if args.push_insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=args.push_ca)


def write_port_file(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write("%d\n" % port)
    os.replace(tmp, path)      # readers never see a half-written file


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    state = State(seed=args.seed)
    state.pusher = PushSender(state, push_context(args))
    server = Server((args.host, args.port), state, build_router(state), server_context(args))
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    scheme = "http" if args.http else "https"
    print("fakegoogle listening on %s://%s:%d" % (scheme, args.host, port), flush=True)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0
