# SPDX-License-Identifier: ISC
"""The front end: TLS with the test CA, keep-alive, Content-Length, limits, garbage in."""

import http.client
import socket
import ssl


def _conn(fg):
    return http.client.HTTPSConnection("127.0.0.1", fg.port, context=fg.ssl, timeout=10)


def test_serves_https_with_test_ca_and_rejects_untrusted_clients(fg):
    assert fg.request("GET", "/__admin/health").json() == {"ok": True}
    strict = ssl.create_default_context()      # system CAs only: the test CA is unknown
    conn = http.client.HTTPSConnection("127.0.0.1", fg.port, context=strict, timeout=5)
    try:
        conn.request("GET", "/__admin/health")
        raise AssertionError("TLS handshake should have failed")
    except ssl.SSLCertVerificationError:
        pass


def test_keep_alive_serves_many_requests_on_one_connection(fg):
    conn = _conn(fg)
    conn.request("GET", "/__admin/health")
    first = conn.getresponse()
    assert first.status == 200 and first.read() == b'{"ok":true}'
    sock = conn.sock
    for _ in range(5):
        conn.request("GET", "/gmail/v1/users/me/profile")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 401
        assert int(resp.getheader("Content-Length")) == len(body)
    assert conn.sock is sock, "the connection was not kept alive"
    conn.close()


def test_chunked_request_body_is_accepted(fg):
    conn = _conn(fg)
    conn.request("POST", "/__admin/accounts", body=iter([b'{"email":', b'"c@example.com"}']),
                 headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                 encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    assert resp.read().startswith(b'{"email":"c@example.com"')


def test_oversized_body_is_413_and_connection_closed(fg):
    conn = _conn(fg)
    conn.putrequest("POST", "/token")
    conn.putheader("Content-Length", str(5 * 1024 * 1024))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413
    assert resp.getheader("Connection") == "close"


def test_too_many_headers_is_rejected(fg):
    conn = _conn(fg)
    conn.putrequest("GET", "/__admin/health")
    for i in range(150):
        conn.putheader("X-Filler-%d" % i, "x")
    conn.endheaders()
    assert conn.getresponse().status == 431


def test_garbage_bytes_do_not_kill_the_server(fg):
    raw = socket.create_connection(("127.0.0.1", fg.port), timeout=5)
    tls = fg.ssl.wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall(b"\x00\x01GARBAGE \xff\xfe\r\n\r\n")
    data = b""
    while chunk := tls.recv(4096):
        data += chunk
    assert b"400" in data       # http.server answers an unparseable line HTTP/0.9-style
    tls.close()
    plain = socket.create_connection(("127.0.0.1", fg.port), timeout=5)
    plain.sendall(b"GET / HTTP/1.1\r\n\r\n")     # plain HTTP to the TLS port
    plain.close()
    assert fg.request("GET", "/__admin/health").status == 200


def test_invalid_json_body_is_a_clear_400(fg):
    token = fg.token()
    resp = fg.api("POST", "/calendar/v3/calendars/primary/events", token, body=b"{not json",
                  headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert resp.json()["error"]["errors"][0]["reason"] == "parseError"


def test_handler_exception_is_500_in_google_shape(fg):
    resp = fg.request("POST", "/__admin/debug/crash", {})
    assert resp.status == 500
    assert resp.json()["error"]["errors"][0]["reason"] == "backendError"
    assert fg.request("GET", "/__admin/health").status == 200


def test_unknown_path_is_404_json(fg):
    resp = fg.request("GET", "/nothing/here")
    assert resp.status == 404 and resp.json()["error"]["code"] == 404
