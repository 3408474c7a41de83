# SPDX-License-Identifier: ISC
"""mail.fetch = batch: a full sync fetching its messages through Gmail's
batch endpoint stores exactly what one request per message stores, spends
the same quota, and loses nothing to a part that is a 404, a rate limit,
missing, or an answer that is garbage."""

import time

import pytest

from rallytest.google import SCOPE_GMAIL_MODIFY
from rallytest.mail import Mail
from test_mail_sync import assert_same_as_gmail

# Columns that differ between two syncs of the same mail: ids Rally makes,
# times it stores.
VOLATILE = {"id", "thread_id", "synced_at", "created_at", "updated_at"}


@pytest.fixture
def mail(pg, db, login_roles, fakegoogle, tmp_path):
    m = Mail(pg, db, login_roles, fakegoogle, tmp_path, "ada")
    yield m
    m.close()


def stored_rows(mail):
    """The mailbox as stored, message rows and thread rows, without what a
    second sync of the same mail would change."""
    msgs = {g: {k: v for k, v in r.items() if k not in VOLATILE}
            for g, r in mail.messages().items()}
    cur = mail.conn.execute("SELECT * FROM rally.mail_threads WHERE tenant_id = %s",
                            (mail.tenant,))
    cols = [c.name for c in cur.description]
    threads = {}
    for r in cur.fetchall():
        row = dict(zip(cols, r))
        threads[row["gmail_thread_id"]] = {k: v for k, v in row.items() if k not in VOLATILE}
    return msgs, threads


def seed(mail, n, seed_no):
    mail.fg.admin("POST", "/__admin/accounts", {"email": mail.google_email})
    mail.fg.admin("POST", f"/__admin/accounts/{mail.google_email}/seed",
                  {"messages": n, "seed": seed_no, "baseTime": int(time.time()) - 3600})
    mail.sections["mail"]["page_size"] = "70"


def units_window(fakegoogle, run):
    """run(); then (the Gmail units the emulator charged meanwhile, what the
    calls it logged cost at their routes' prices, messages.get calls)."""
    costs = {r["name"]: r["cost"] for r in fakegoogle.admin("GET", "/__admin/routes")["routes"]
             if r["kind"] == "gmail"}
    units = fakegoogle.admin("GET", "/__admin/counters")["gmailUnits"]
    seq = fakegoogle.admin("GET", "/__admin/requests?since=999999999")["last"]
    run()
    charged = fakegoogle.admin("GET", "/__admin/counters")["gmailUnits"] - units
    log = fakegoogle.admin("GET", f"/__admin/requests?since={seq}")["requests"]
    priced = sum(costs.get(e.get("route"), 0) for e in log)
    gets = [e for e in log if e.get("route") == "gmail.users.messages.get"]
    return charged, priced, gets


def listing(mail):
    """The ids of messages.list, spam and trash aside, in its order."""
    token = mail.fg.access_token(mail.google_email, (SCOPE_GMAIL_MODIFY,))
    status, body = mail.fg.request("GET", "/gmail/v1/users/me/messages?maxResults=500",
                                   token=token)
    assert status == 200 and "nextPageToken" not in body, body
    return [m["id"] for m in body["messages"]]


def full_sync_again(mail, fetch):
    """The stored mail dropped and a full sync run again with mail.fetch."""
    for d in mail.daemons:
        d.stop()
    mail.conn.execute("DELETE FROM rally.mail_messages WHERE tenant_id = %s", (mail.tenant,))
    mail.conn.execute("DELETE FROM rally.mail_threads WHERE tenant_id = %s", (mail.tenant,))
    mail.fg.admin("POST", f"/__admin/accounts/{mail.google_email}/expire-history")
    mail.sections["mail"]["fetch"] = fetch
    mail.start()
    mail.sync()
    assert mail.last_result()["mode"] == "full"


def test_a_batch_full_sync_stores_the_same_rows_and_spends_the_same_units(mail, fakegoogle):
    seed(mail, 160, 11)
    mail.sections["mail"]["fetch"] = "single"
    mail.connect()
    charged, priced, gets = units_window(fakegoogle, lambda: (mail.start(), mail.settle()))
    single = stored_rows(mail)
    listed = assert_same_as_gmail(mail)
    assert len(single[0]) == len(listed) > 100
    assert charged == priced and len(gets) == len(listed), (charged, priced, len(gets))
    assert not any(e.get("batch") for e in gets)

    charged, priced, gets = units_window(fakegoogle, lambda: full_sync_again(mail, "batch"))
    assert stored_rows(mail) == single
    r = mail.last_result("full")
    assert (r["fetched"], r["batch_retried"]) == (len(listed), 0), r
    # Each messages.get of a batch is charged 5 units, as on its own.
    assert charged == priced and len(gets) == len(listed), (charged, priced, len(gets))
    assert all(e.get("batch") for e in gets)


def test_404_429_missing_parts_and_a_garbage_answer_lose_no_message(mail, fakegoogle):
    seed(mail, 140, 12)
    mail.sections["mail"]["fetch"] = "batch"
    mail.connect()
    gone = listing(mail)[-3]
    faults = [
        # As if deleted between the listing and the fetch: a 404 part.
        {"kind": "garbage", "status": 404, "count": 1, "inBatch": True,
         "pathPrefix": f"/gmail/v1/users/me/messages/{gone}"},
        {"kind": "429", "count": 3, "inBatch": True, "retryAfter": 0,
         "pathPrefix": "/gmail/v1/users/me/messages/"},
        {"kind": "503", "count": 2, "inBatch": True,
         "pathPrefix": "/gmail/v1/users/me/messages/"},
        {"kind": "omit", "count": 2, "inBatch": True,
         "pathPrefix": "/gmail/v1/users/me/messages/"},
        {"kind": "garbage", "count": 1, "pathPrefix": "/batch/gmail/v1"},
    ]
    for f in faults:
        fakegoogle.admin("POST", "/__admin/faults", f)
    try:
        mail.start()
        mail.settle(timeout=120)
        fired = {(f["kind"], f["status"]): f["fired"]
                 for f in fakegoogle.admin("GET", "/__admin/faults")["faults"]}
    finally:
        fakegoogle.admin("DELETE", "/__admin/faults")
    assert fired == {("429", 200): 3, ("503", 200): 2, ("omit", 200): 2,
                     ("garbage", 200): 1, ("garbage", 404): 1}, fired
    r = mail.last_result("full")
    stored = mail.messages()
    assert gone not in stored
    assert r["vanished"] == 1 and r["batch_retried"] >= 7, r
    # Every other message stored exactly once.
    count = mail.conn.execute("SELECT count(*), count(DISTINCT gmail_id) FROM rally.mail_messages"
                              " WHERE tenant_id = %s", (mail.tenant,)).fetchone()
    listed = listing(mail)
    assert count == (len(listed) - 1, len(listed) - 1)
    assert set(stored) == set(listed) - {gone}
