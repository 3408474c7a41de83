# SPDX-License-Identifier: ISC
"""Gmail push, end to end: rallyd opens a Gmail watch on the configured
Pub/Sub topic, the emulator publishes mailbox changes to rally.cgi's
/hooks/google/gmail/<secret> as Pub/Sub would, and the hook's mailsync
brings the change into the CRM long before the next poll."""

import base64
import os
import time

import pytest

from rallytest.daemon import wait_until, write_config
from rallytest.mail import Mail
from rallytest.web import Lighttpd

TOPIC = "projects/rally-test/topics/gmail"
SECRET = "push-Qm7Kd2Lx9Vb4Nc8Wz1Hs5Jt3"


@pytest.fixture
def pushed(pg, db, login_roles, fakegoogle, tmp_path):
    token_file = tmp_path / "push-token"
    token_file.write_text(SECRET + "\n")
    os.chmod(token_file, 0o600)
    web_conf = str(tmp_path / "web.conf")
    write_config(web_conf, {"database": {"web_conninfo": pg.conninfo(db, login_roles["web"])},
                            "log": {"level": "warning", "target": "stderr"},
                            "google": {"push_token_file": str(token_file)}})
    web = Lighttpd(web_conf).start()
    m = Mail(pg, db, login_roles, fakegoogle, tmp_path, "ada")
    m.sections["google"]["push_token_file"] = str(token_file)
    m.sections["mail"]["pubsub_topic"] = TOPIC
    fakegoogle.admin("POST", "/__admin/pubsub", {
        "topic": TOPIC, "pushEndpoint": f"http://127.0.0.1:{web.port}/hooks/google/gmail/{SECRET}"})
    yield m
    m.close()
    web.close()


def test_a_message_delivered_in_gmail_reaches_the_crm_by_push(pushed, fakegoogle):
    mail = pushed
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    mail.connect()
    mail.start()
    mail.settle()
    wait_until(lambda: mail.mail_state()["channel_expires_at"] is not None, timeout=30,
               message="the Gmail watch")
    raw = (f"From: Ann <ann@mail.test>\r\nTo: {mail.google_email}\r\nSubject: Pushed\r\n"
           f"Message-ID: <{time.monotonic_ns()}@mail.test>\r\n\r\nHi\r\n")
    gid = fakegoogle.admin("POST", f"/__admin/accounts/{mail.google_email}/messages",
                           {"raw": base64.urlsafe_b64encode(raw.encode()).decode()})["id"]
    # mail.poll_interval is an hour: only the push can bring it this soon.
    mail.wait_messages(1, timeout=30)
    assert gid in mail.messages()
    reasons = [r for (r,) in mail.conn.execute(
        "SELECT payload->>'reason' FROM rally.jobs WHERE kind = 'mailsync'")]
    assert "push" in reasons
    deliveries = fakegoogle.admin("GET", "/__admin/push-log")["deliveries"]
    assert any(d["url"].endswith(f"/hooks/google/gmail/{SECRET}") and
               200 <= int(d["status"] or 0) < 300 for d in deliveries)
