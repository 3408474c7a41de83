# SPDX-License-Identifier: ISC
"""rally.cgi's Google push receivers, behind a real lighttpd, against the
real schema as a rally_web login: what Google and Pub/Sub get back, which
jobs the daemon finds queued, and what reaches the logs."""

import base64
import hashlib
import json
import os
import uuid

import pytest

from rallytest.daemon import write_config
from rallytest.schema import insert
from rallytest.web import Lighttpd

HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
CHANNEL_TOKEN = "chan-tok-" + "Zq7xW2pL9vB4nK8sR1tY6uE3"
PUSH_TOKEN = "push-secret-" + "Hk3Jd8Sm2Qp5Lx9Vb7Nc4Wz1"
MAILBOX = "ann@gmail.example"
CAL = "/hooks/google/calendar"
GMAIL = "/hooks/google/gmail"


@pytest.fixture
def account(dbconn):
    """A tenant, a user, a Google connection with Calendar and Gmail on, and
    the Calendar watch channel rallyd would have stored."""
    t = insert(dbconn, "tenants", "tenant_id", name="Acme")
    u = insert(dbconn, "users", "id", tenant_id=t, email="ann@example.com", password_hash=HASH)
    c = insert(dbconn, "google_connections", "id", tenant_id=t, user_id=u,
               google_email=MAILBOX, google_subject=f"sub-{uuid.uuid4()}",
               calendar_enabled=True, mail_enabled=True,
               refresh_token=os.urandom(60), access_token=os.urandom(60))
    channel = str(uuid.uuid4())
    insert(dbconn, "sync_state", tenant_id=t, connection_id=c, resource="calendar",
           channel_id=channel, channel_resource_id="res-" + channel[:8],
           channel_token_hash=hashlib.sha256(CHANNEL_TOKEN.encode()).digest())
    return {"tenant": t, "user": u, "connection": c, "channel": channel}


class Site:
    """The lighttpd + rally.cgi under test and the rally.conf it reads
    (on every request, so a test may rewrite it: write() then; under
    FastCGI it makes the processes reread it)."""

    def __init__(self, directory, web_conninfo):
        self.conf = os.path.join(directory, "rally.conf")
        self.token_file = os.path.join(directory, "push-token")
        with open(self.token_file, "w") as f:
            f.write(PUSH_TOKEN + "\n")
        os.chmod(self.token_file, 0o600)
        self.server = None
        self.configure(web_conninfo)
        self.server = Lighttpd(self.conf).start()

    def write(self, sections):
        write_config(self.conf, sections)
        if self.server is not None:
            self.server.reload()

    def configure(self, web_conninfo):
        self.write({
            "database": {"web_conninfo": web_conninfo},
            "log": {"level": "debug", "target": "stderr"},
            "google": {"push_token_file": self.token_file},
        })

    def post(self, path, body=b"", headers=None):
        return self.request("POST", path, body, headers)

    def request(self, method, path, body=None, headers=None):
        r = self.server.request(method, path, body=body, headers=headers)
        # Every answer rally.cgi gives, whatever the status, is for no cache.
        assert r.header("cache-control") == "no-store", r
        assert r.header("x-content-type-options") == "nosniff", r
        return r

    def logs(self):
        return self.server.logs()


def publish_push_secret(dbconn, secret=PUSH_TOKEN):
    """What rallyd does with google.push_token_file at start-up."""
    dbconn.execute("INSERT INTO rally.push_secrets (name, sha256) VALUES ('gmail', %s) "
                   "ON CONFLICT (tenant_id, name) DO UPDATE SET sha256 = excluded.sha256",
                   (hashlib.sha256(secret.encode()).digest(),))


@pytest.fixture
def site(tmp_path, pg, db, login_roles, dbconn):
    publish_push_secret(dbconn)
    s = Site(str(tmp_path), pg.conninfo(db, login_roles["web"]))
    yield s
    logs = s.logs()
    s.server.close()
    # In an --enable-asan --enable-ubsan build, rally.cgi reports here.
    assert "Sanitizer" not in logs and "runtime error" not in logs, logs


def calendar_headers(account, token=CHANNEL_TOKEN, state="exists", number=2, **override):
    h = {"X-Goog-Channel-ID": account["channel"],
         "X-Goog-Channel-Token": token,
         "X-Goog-Channel-Expiration": "Tue, 01 Dec 2026 10:00:00 GMT",
         "X-Goog-Resource-ID": "res-" + account["channel"][:8],
         "X-Goog-Resource-URI": "https://www.googleapis.com/calendar/v3/calendars/primary/events",
         "X-Goog-Resource-State": state,
         "X-Goog-Message-Number": str(number)}
    for k, v in override.items():
        name = "X-Goog-" + k.replace("_", "-")
        if v is None:
            h.pop(name)
        else:
            h[name] = v
    return h


def pubsub_body(email=MAILBOX, history_id="123456", data=None):
    if data is None:
        data = base64.b64encode(json.dumps(
            {"emailAddress": email, "historyId": history_id}).encode()).decode()
    return json.dumps({"message": {"data": data, "messageId": "2070443601311540",
                                   "publishTime": "2026-11-29T10:00:00.000Z"},
                       "subscription": "projects/rally/subscriptions/gmail-push"}).encode()


def gmail_post(site, body, token=PUSH_TOKEN, content_type="application/json", query=""):
    path = GMAIL if token is None else f"{GMAIL}/{token}"
    return site.post(path + query, body, {"Content-Type": content_type})


def jobs(dbconn, kind):
    return dbconn.execute("SELECT tenant_id, dedupe_key, payload, state FROM rally.jobs "
                          "WHERE kind = %s ORDER BY id", (kind,)).fetchall()


def database_down(site, tmp_path):
    """Points web_conninfo at a socket directory where no server listens."""
    empty = tmp_path / "no-server"
    empty.mkdir()
    site.configure(f"host={empty} dbname=rally user=rally_test_web")


# --- Calendar -------------------------------------------------------------------------


def test_calendar_notification_queues_one_calsync_job(site, account, dbconn):
    r = site.post(CAL, headers=calendar_headers(account))
    assert r.status == 200, (r, site.logs())
    assert jobs(dbconn, "calsync") == [
        (account["tenant"], str(account["connection"]),
         {"connection_id": str(account["connection"]), "reason": "push"}, "pending")]


def test_calendar_notifications_in_a_burst_leave_one_pending_job(site, account, dbconn):
    for n in (2, 3, 4):
        r = site.post(CAL, headers=calendar_headers(account, number=n))
        assert r.status == 200, r
    assert len(jobs(dbconn, "calsync")) == 1


def test_calendar_sync_message_is_accepted_and_queues_nothing(site, account, dbconn):
    r = site.post(CAL, headers=calendar_headers(account, state="sync", number=1))
    assert r.status == 200, r
    assert jobs(dbconn, "calsync") == []


def test_calendar_not_exists_state_also_queues_a_sync(site, account, dbconn):
    r = site.post(CAL, headers=calendar_headers(account, state="not_exists"))
    assert r.status == 200, r
    assert len(jobs(dbconn, "calsync")) == 1


def test_calendar_wrong_token_is_404_and_queues_nothing(site, account, dbconn):
    r = site.post(CAL, headers=calendar_headers(account, token="not-the-channel-token"))
    assert r.status == 404, r
    assert jobs(dbconn, "calsync") == []


def test_calendar_unknown_channel_is_404(site, account, dbconn):
    r = site.post(CAL, headers=calendar_headers(account, Channel_ID=str(uuid.uuid4())))
    assert r.status == 404, r
    assert jobs(dbconn, "calsync") == []


def test_calendar_push_for_a_switched_off_calendar_is_404(site, account, dbconn):
    dbconn.execute("UPDATE rally.google_connections SET calendar_enabled = false "
                   "WHERE id = %s", (account["connection"],))
    r = site.post(CAL, headers=calendar_headers(account))
    assert r.status == 404, r
    assert jobs(dbconn, "calsync") == []


@pytest.mark.parametrize("missing", ["Channel_ID", "Channel_Token", "Resource_State",
                                     "Resource_ID", "Message_Number"])
def test_calendar_missing_header_is_400(site, account, dbconn, missing):
    r = site.post(CAL, headers=calendar_headers(account, **{missing: None}))
    assert r.status == 400, r
    assert missing.replace("_", "-").encode() in r.body
    assert jobs(dbconn, "calsync") == []


@pytest.mark.parametrize("header,value", [
    ("Channel_ID", "c" * 257),
    ("Channel_Token", "t" * 257),
    ("Resource_State", "deleted"),
    ("Message_Number", "12a"),
])
def test_calendar_oversize_or_malformed_header_is_400(site, account, dbconn, header, value):
    r = site.post(CAL, headers=calendar_headers(account, **{header: value}))
    assert r.status == 400, r
    assert jobs(dbconn, "calsync") == []


def test_calendar_notification_with_a_body_is_400(site, account, dbconn):
    r = site.post(CAL, b"{}", headers=calendar_headers(account))
    assert r.status == 400, r
    assert jobs(dbconn, "calsync") == []


def test_hook_get_is_405_allowing_post(site, account):
    r = site.request("GET", CAL, headers=calendar_headers(account))
    assert r.status == 405, r
    assert r.header("allow") == "POST"


def test_unknown_path_is_404(site):
    assert site.post("/hooks/google/drive").status == 404


def test_hook_answers_under_the_script_name_too(site, account, dbconn):
    r = site.post("/rally.cgi" + CAL, headers=calendar_headers(account))
    assert r.status == 200, r
    assert len(jobs(dbconn, "calsync")) == 1


def test_body_over_one_mebibyte_is_413_and_queues_nothing(site, account, dbconn):
    r = site.post(CAL, b"x" * (1024 * 1024 + 1), headers=calendar_headers(account))
    assert r.status == 413, r
    r = gmail_post(site, b" " * (1024 * 1024 + 1))
    assert r.status == 413, r
    assert jobs(dbconn, "calsync") == [] and jobs(dbconn, "mailsync") == []


def test_calendar_database_down_is_503_so_google_retries(site, account, tmp_path):
    database_down(site, tmp_path)
    r = site.post(CAL, headers=calendar_headers(account))
    assert r.status == 503, r


def test_calendar_logs_never_contain_the_channel_token(site, account, tmp_path):
    assert site.post(CAL, headers=calendar_headers(account)).status == 200
    assert site.post(CAL, headers=calendar_headers(account, state="sync")).status == 200
    wrong = "wrong-" + CHANNEL_TOKEN[::-1]
    assert site.post(CAL, headers=calendar_headers(account, token=wrong)).status == 404
    assert site.post(CAL, headers=calendar_headers(
        account, Channel_Token="x" * 300)).status == 400
    database_down(site, tmp_path)
    assert site.post(CAL, headers=calendar_headers(account)).status == 503
    logs = site.logs()
    # The CGI did log about these requests (by channel id, and the outage) ...
    assert account["channel"] in logs, logs
    assert "calendar push: database:" in logs, logs
    # ... and no token ever.
    assert CHANNEL_TOKEN not in logs, logs
    assert wrong not in logs, logs


# --- Gmail ----------------------------------------------------------------------------


def test_gmail_push_with_the_right_secret_is_acknowledged(site, account, dbconn):
    r = gmail_post(site, pubsub_body())
    assert r.status == 204, (r, site.logs())
    assert len(jobs(dbconn, "mailsync")) == 1, "the mailbox's sync is queued"


def test_gmail_push_with_a_numeric_history_id_is_accepted(site, account, dbconn):
    r = gmail_post(site, pubsub_body(email=MAILBOX.upper(), history_id=98765))
    assert r.status == 204, r


def test_gmail_push_answers_the_same_whether_or_not_the_mailbox_is_known(site, account):
    known = gmail_post(site, pubsub_body())
    unknown = gmail_post(site, pubsub_body(email="nobody@gmail.example"))
    assert (known.status, known.body) == (unknown.status, unknown.body) == (204, b"")


def test_gmail_push_is_acknowledged_even_before_rallyd_published_the_secret(
        site, account, dbconn):
    # Pub/Sub would only redeliver; rally.hook_gmail() itself refuses to act.
    dbconn.execute("DELETE FROM rally.push_secrets")
    assert gmail_post(site, pubsub_body()).status == 204


@pytest.mark.parametrize("token", ["wrong-secret-Hk3Jd8Sm2Qp5Lx9Vb7Nc4Wz1",
                                   PUSH_TOKEN[:-1], PUSH_TOKEN + "x", "s" * 1025],
                         ids=["wrong", "prefix", "longer", "oversize"])
def test_gmail_push_without_the_right_secret_is_403_and_queues_nothing(
        site, account, dbconn, token):
    r = gmail_post(site, pubsub_body(), token=token)
    assert r.status == 403, r
    assert jobs(dbconn, "mailsync") == []


@pytest.mark.parametrize("path", [GMAIL, GMAIL + "/", f"{GMAIL}/{PUSH_TOKEN}/x",
                                  f"{GMAIL}x/{PUSH_TOKEN}", f"/hooks/google/{PUSH_TOKEN}"],
                         ids=["bare", "empty-segment", "two-segments", "longer-prefix",
                              "other-hook"])
def test_gmail_push_without_the_secret_segment_is_404(site, account, dbconn, path):
    r = site.post(path, pubsub_body(), {"Content-Type": "application/json"})
    assert r.status == 404, r
    assert jobs(dbconn, "mailsync") == []


@pytest.mark.parametrize("token,query", [(None, f"?token={PUSH_TOKEN}"),
                                         (PUSH_TOKEN, f"?token={PUSH_TOKEN}"),
                                         (PUSH_TOKEN, "?x=1")],
                         ids=["old-style", "both", "any-query"])
def test_gmail_push_with_a_query_string_is_refused_with_400(site, account, dbconn,
                                                            token, query):
    r = gmail_post(site, pubsub_body(), token=token, query=query)
    assert r.status == 400, r
    assert b"/hooks/google/gmail/SECRET" in r.body
    assert "the secret goes in the path" in site.logs()


def test_other_routes_still_match_exactly(site, account):
    r = site.post(CAL + "/extra", headers=calendar_headers(account))
    assert r.status == 404, r
    r = site.request("GET", f"{GMAIL}/{PUSH_TOKEN}")
    assert r.status == 405, r
    assert r.header("allow") == "POST"


def test_access_log_records_the_push_but_never_the_secret(site, account):
    assert gmail_post(site, pubsub_body()).status == 204
    assert gmail_post(site, pubsub_body(), token=PUSH_TOKEN[:-1] + "X").status == 403
    assert gmail_post(site, pubsub_body(), token=None,
                      query=f"?token={PUSH_TOKEN}").status == 400
    site.server.stop()      # lighttpd writes its access log out when it stops
    with open(site.server.access_log) as f:
        log = f.read()
    lines = [line for line in log.splitlines() if "/rally.cgi/" in line]
    assert len(lines) == 3, log
    assert sum('"POST /rally.cgi/[path not logged] HTTP/1.1" 204' in line
               for line in lines) == 1, log
    assert PUSH_TOKEN not in log and PUSH_TOKEN[:-1] not in log, log


@pytest.mark.parametrize("body", [
    b"{not json",
    b'{"message": {"data": "' + b"!!not base64!!" + b'"}}',
    pubsub_body(data=base64.b64encode(b"{truncated").decode()),
    pubsub_body(data=base64.b64encode(b'{"historyId": "1"}').decode()),
    pubsub_body(email="no-at-sign"),
    pubsub_body(history_id="-1"),
    b'{"subscription": "projects/rally/subscriptions/gmail-push"}',
    b"[]",
    b"",
], ids=["json", "base64", "data-json", "no-email", "bad-email", "bad-history",
        "no-message", "array", "empty"])
def test_gmail_malformed_push_is_400(site, account, dbconn, body):
    r = gmail_post(site, body)
    assert r.status == 400, r
    assert jobs(dbconn, "mailsync") == []


def test_gmail_push_that_is_not_json_is_415(site, account, dbconn):
    r = gmail_post(site, pubsub_body(), content_type="text/plain")
    assert r.status == 415, r
    assert jobs(dbconn, "mailsync") == []


def test_gmail_push_without_a_configured_secret_is_403(site, account, dbconn):
    site.write({"database": {"web_conninfo": "dbname=unused"},
                "log": {"level": "debug", "target": "stderr"}})
    r = gmail_post(site, pubsub_body())
    assert r.status == 403, r
    assert "push_token_file is not set" in site.logs()


def test_gmail_database_down_is_503(site, account, tmp_path):
    database_down(site, tmp_path)
    r = gmail_post(site, pubsub_body())
    assert r.status == 503, r


def test_gmail_logs_never_contain_the_push_secret(site, account):
    assert gmail_post(site, pubsub_body()).status == 204
    assert gmail_post(site, pubsub_body(), token=PUSH_TOKEN[:-1] + "X").status == 403
    logs = site.logs()
    assert "wrong secret" in logs, logs
    assert PUSH_TOKEN not in logs, logs
    assert PUSH_TOKEN[:-1] not in logs, logs


def test_gmail_push_secret_readable_by_others_is_refused(site, account, dbconn):
    os.chmod(site.token_file, 0o644)
    r = gmail_post(site, pubsub_body())
    assert r.status == 500, r
    assert jobs(dbconn, "mailsync") == []
    assert "is readable by others: chmod 600" in site.logs()
    assert PUSH_TOKEN not in site.logs()


def test_gmail_push_secret_readable_by_group_is_accepted(site, account, dbconn):
    # rally.cgi reads the push token as the web server, through group rally.
    os.chmod(site.token_file, 0o640)
    assert gmail_post(site, pubsub_body()).status == 204
