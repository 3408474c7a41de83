# SPDX-License-Identifier: ISC
"""The example configurations of contrib/ (docs/cgi.md sections 2 and 11),
run by the real servers: lighttpd (CGI and FastCGI), nginx with fcgiwrap and
with rally.cgi as a FastCGI application started by spawn-fcgi, Apache with
mod_cgid.  Each file passes its server's syntax check, and, served on
127.0.0.1 with a
throwaway certificate in front of the built rally.cgi, gives what docs/cgi.md
promises: the whole site is the CGI (PATH_INFO the whole path, RALLY_CONFIG
set), HTTPS=on reaches it over TLS (Secure __Host- cookies), plain HTTP is
redirected, bodies over 1 MiB are refused, and the access log never holds
a secret of a path or query (the Gmail hook's, the OAuth callback's code and
state, password-reset and invitation tokens) while other requests keep
theirs."""

import base64
import json
import os
import pwd
import re
import shutil
import tempfile

import pytest

from rallytest.daemon import write_config
from rallytest import SRCDIR
from rallytest.servers import WEB_USER, Server, available
from rallytest.site import Client

KINDS = ["lighttpd", "lighttpd-fastcgi", "nginx", "nginx-fastcgi", "apache2"]
SECRET = "serving-Kd2Lx9Vb4Nc8Wz1Hs5Jt3Qm7"


def need(kind):
    if not available(kind):
        pytest.skip(f"{kind} is not installed (tools/deps installs it)")


@pytest.fixture
def rally_conf(pg, db, login_roles):
    """A rally.conf the web server's user can read (pytest's tmp_path is
    private to root)."""
    d = tempfile.mkdtemp(prefix="rally-serving-conf-")
    os.chmod(d, 0o755)
    token = os.path.join(d, "push-token")
    with open(token, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(token, 0o640)     # rally.cgi refuses a secret others can read
    if os.geteuid() == 0:
        os.chown(token, 0, pwd.getpwnam(WEB_USER).pw_gid)
    conf = os.path.join(d, "rally.conf")
    write_config(conf, {"database": {"web_conninfo": pg.conninfo(db, login_roles["web"])},
                        "log": {"level": "notice", "target": "stderr"},
                        "passwords": {"argon2_memory_kib": "19456", "argon2_iterations": "2"},
                        "google": {"push_token_file": token}})
    os.chmod(conf, 0o644)
    yield conf
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=KINDS)
def served(request, rally_conf):
    need(request.param)
    server = Server(request.param, rally_conf).start()
    yield server
    logs = server.logs()
    server.close()
    assert "Sanitizer" not in logs and "runtime error" not in logs, logs


class _Site:
    """What rallytest.site.Client needs of a site: a server with request()."""

    def __init__(self, server):
        self.server = server


@pytest.mark.parametrize("kind", KINDS)
def test_example_config_passes_the_servers_own_check(kind, tmp_path):
    need(kind)
    server = Server(kind, str(tmp_path / "rally.conf"))
    try:
        ok, output = server.syntax_check()
        assert ok, output
    finally:
        server.close()


def test_every_path_is_the_cgi_over_https_with_secure_cookies(served):
    r = served.request("GET", "/signin")
    assert r.status == 200, (r, served.logs())
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert "default-src 'none'" in r.header("content-security-policy")
    pre = [c for c in r.header_all("set-cookie") if c.startswith("__Host-rally-pre=")]
    assert pre and "; Secure" in pre[0], r.header_all("set-cookie")
    css = served.request("GET", "/static/rally.css")
    assert css.status == 200 and css.header("content-type").startswith("text/css")
    assert served.request("GET", "/no/such/page").status == 404


def test_sign_up_sign_in_and_out_through_the_server(served, dbconn):
    c = Client(_Site(served))
    c.signup(email="ann@serving.example")
    assert "__Host-rally" in c.cookies
    page = c.get("/?done=welcome")
    assert page.status == 200 and "Your workspace is ready." in page.text
    r = c.post("/signout")
    assert r.status == 303 and r.header("location") == "/signin?done=signedout"
    c.signin("ann@serving.example")
    assert c.get("/").status == 200
    assert dbconn.execute("SELECT count(*) FROM rally.sessions").fetchone()[0] == 1


def test_plain_http_is_redirected_to_https(served):
    r = served.request("GET", "/signin?next=x", tls=False)
    assert r.status in (301, 308), r
    assert r.header("location").startswith("https://crm.example.com"), r
    assert r.header("location").endswith("/signin?next=x"), r


def test_bodies_over_one_mib_are_refused(served):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = served.request("POST", "/signin", headers=form, declare_length=1024 * 1024 + 1)
    assert r.status == 413, r


def test_the_hook_secret_and_the_oauth_code_stay_out_of_the_access_log(served):
    data = json.dumps({"emailAddress": "x@gmail.test", "historyId": "1"}).encode()
    envelope = json.dumps({"message": {"data": base64.b64encode(data).decode(),
                                       "messageId": "1", "publishTime": "2026-12-01T00:00:00Z"},
                           "subscription": "projects/p/subscriptions/s"}).encode()
    headers = {"Content-Type": "application/json"}
    r = served.request("POST", f"/hooks/google/gmail/{SECRET}", envelope, headers)
    assert r.status == 204, (r, served.logs())
    wrong = "not-the-secret-" + "q" * 20
    assert served.request("POST", f"/hooks/google/gmail/{wrong}", envelope, headers).status == 403
    assert served.request("GET", "/signin").status == 200
    code, state = "4/0AcodeFROMgoogle" + "x" * 20, "stateFROMrally" + "y" * 29
    r = served.request("GET", f"/oauth/callback?state={state}&code={code}")
    assert r.status < 500, r
    served.stop()       # lighttpd writes its access log in batches
    log = served.access_log()
    assert log.count("\n") >= 4, log
    assert SECRET not in log and wrong not in log, log
    assert code not in log and state not in log, log
    assert SECRET not in served.logs() and code not in served.logs()


def _token(tag):
    """A fake account token in rally.cgi's format (43 characters of
    base64url), so the request reaches the lookup as a real link would."""
    return (tag + "-" + "Tk7pQ2wZ9xR4mN8vB3cL6hJ1sD5fG0aE")[:43].ljust(43, "z")


def test_reset_and_invitation_tokens_stay_out_of_the_access_log(served):
    # A reset link lets its holder set the password for an hour, an
    # invitation lets its holder join the workspace for a week: whoever
    # reads the access log must not find either.
    reset, invite = _token("resetTOKEN"), _token("inviteTOKEN")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    sent = [("GET", f"/reset/{reset}", None, True),
            ("POST", f"/reset/{reset}", b"password=x&again=x", True),
            ("GET", f"/reset/{reset}", None, False),        # plain HTTP, redirected
            ("GET", f"/invite/{invite}", None, True),
            ("POST", f"/invite/{invite}", b"name=x&password=x&again=x", True),
            ("GET", f"/invite/{invite}", None, False)]
    for method, path, body, tls in sent:
        r = served.request(method, path, body, form if body else None, tls=tls)
        assert r.status < 500, (method, path, r, served.logs())
    # An ordinary request keeps its path in the log (lighttpd logs no CGI
    # path at all, so there only its line is looked for).
    assert served.request("GET", "/signin?done=sent").status == 200
    served.stop()       # lighttpd writes its access log in batches
    log = served.access_log()
    assert log.count("\n") >= len(sent) + 1, log
    assert reset not in log and invite not in log, log
    assert reset not in served.logs() and invite not in served.logs()
    if served.tool == "lighttpd":
        assert "GET /rally.cgi/[path not logged]" in log, log
    else:
        assert "GET /signin?done=sent " in log, log
        assert "GET /reset/[masked] " in log and "POST /invite/[masked] " in log, log


def _masking_lines(text):
    """The lines that choose what an access log gets (nginx's map and
    log_format, Apache's SetEnvIf, LogFormat and CustomLog), blanks
    squeezed and the log file's directory dropped."""
    keep = re.compile(r"^(map |~\^|default |log_format |'|SetEnvIf |LogFormat |CustomLog )")
    out = []
    for line in text.splitlines():
        line = " ".join(line.split())
        line = re.sub(r"^CustomLog \S+/[\w-]+\.log ", "CustomLog LOG ", line)
        if keep.match(line) and line not in out:
            out.append(line)
    return out


@pytest.mark.parametrize("tool", ["nginx", "apache2"])
def test_the_masking_in_operations_md_is_the_example_configs(tool):
    # Operators copy the snippets of docs/operations.md section 6 more often
    # than the files, so a path masked in one must be masked in the other.
    with open(SRCDIR / "docs" / "operations.md") as f:
        doc = f.read()
    start = {"nginx": "nginx: log a masked copy", "apache2": "Apache: give these"}[tool]
    block = doc[doc.index(start):]
    block = block[block.index("```") + 3:]
    block = block[:block.index("```")]
    with open(SRCDIR / "contrib" / tool / "rally.conf") as f:
        conf = f.read()
    assert _masking_lines(block) == _masking_lines(conf)
