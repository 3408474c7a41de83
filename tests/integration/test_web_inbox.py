# SPDX-License-Identifier: ISC
"""The inbox of rally.cgi over HTTP through lighttpd, against the real
schema as a rally_web login: the list and its views, keyset pagination,
a thread, the sandboxed HTML body, hostile mail, sharing and tenancy,
actions, compose and reply; and, with rallyd and the Google emulator,
mail that syncs in, a reply that reaches Gmail in its thread, and label
changes that reach Gmail.  docs/web.md, "Inbox"."""

import html
import re
from html.parser import HTMLParser
import urllib.parse
import uuid

import pytest

from rallytest.daemon import wait_until

OWNER = "ann@acme.example"
MAIL_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# --- the world -------------------------------------------------------------

class World:
    """Ann (owner) and Bo (member) in Acme, Cy in Globex, each signed in
    in a browser of their own and with a Gmail connection."""

    def __init__(self, site, conn):
        self.site, self.conn = site, conn
        self.ann = site.client()
        self.ann.signup()
        self.acme = self.one("SELECT tenant_id FROM rally.users WHERE email = %s", OWNER)
        self.ann_id = self.one("SELECT id FROM rally.users WHERE email = %s", OWNER)
        self.bo_id = self.one(
            "INSERT INTO rally.users (tenant_id, email, name, role, password_hash)"
            " SELECT tenant_id, 'bo@acme.example', 'Bo Member', 'member', password_hash"
            " FROM rally.users WHERE email = %s RETURNING id", OWNER)
        self.bo = site.client()
        self.bo.signin("bo@acme.example")
        self.cy = site.client()
        self.cy.signup(company="Globex", name="Cy Other", email="cy@globex.example")
        self.globex = self.one("SELECT tenant_id FROM rally.users WHERE email = %s",
                               "cy@globex.example")
        self.cy_id = self.one("SELECT id FROM rally.users WHERE email = %s",
                              "cy@globex.example")
        self.ann_conn = self.connection(self.acme, self.ann_id, "ann@gmail.test")
        self.bo_conn = self.connection(self.acme, self.bo_id, "bo@gmail.test")
        self.cy_conn = self.connection(self.globex, self.cy_id, "cy@gmail.test")

    def one(self, sql, *params):
        v = self.conn.execute(sql, params).fetchone()[0]
        return str(v) if isinstance(v, uuid.UUID) else v

    def connection(self, tenant, user, email):
        return self.one("INSERT INTO rally.google_connections (tenant_id, user_id, google_email,"
                        " google_subject, mail_enabled) VALUES (%s, %s, %s, %s, true)"
                        " RETURNING id", tenant, user, email, "sub-" + email)

    def thread(self, who="ann", subject="Proposal", messages=None, visibility="private"):
        """A synced thread and its messages as Gmail sync stores them, its
        summary computed by rally.mail_threads_refresh.  Returns
        (thread id, [message ids])."""
        tenant, user, conn = {"ann": (self.acme, self.ann_id, self.ann_conn),
                              "bo": (self.acme, self.bo_id, self.bo_conn),
                              "cy": (self.globex, self.cy_id, self.cy_conn)}[who]
        t = self.one("INSERT INTO rally.mail_threads (tenant_id, user_id, connection_id,"
                     " gmail_thread_id, visibility) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                     tenant, user, conn, "t" + uuid.uuid4().hex, visibility)
        ids = []
        for i, m in enumerate(messages or [{}]):
            row = {"from_addr": "Zoe Client <zoe@client.test>", "to_addrs": [f"{who}@gmail.test"],
                   "subject": subject, "body_text": f"Hello number {i}", "snippet": f"Hello number {i}", "label_ids": ["INBOX"],
                   "internal_date": f"2026-11-{10 + i:02d}T09:00:00Z",
                   "rfc822_message_id": f"<m{i}-{uuid.uuid4().hex}@client.test>"}
            row.update(m)
            cols = ", ".join(row)
            marks = ", ".join(["%s"] * len(row))
            ids.append(self.one(
                f"INSERT INTO rally.mail_messages (tenant_id, thread_id, user_id, connection_id,"
                f" gmail_id, {cols}) VALUES (%s, %s, %s, %s, %s, {marks}) RETURNING id",
                tenant, t, user, conn, "g" + uuid.uuid4().hex, *row.values()))
        self.conn.execute("SELECT rally.mail_threads_refresh(%s, ARRAY[%s]::uuid[])", (tenant, t))
        return t, ids

    def counts(self):
        return self.conn.execute(
            "SELECT (SELECT count(*) FROM rally.mail_label_ops),"
            " (SELECT count(*) FROM rally.mail_outbox),"
            " (SELECT count(*) FROM rally.mail_threads WHERE visibility = 'shared'),"
            " (SELECT count(*) FROM rally.jobs)").fetchone()


@pytest.fixture
def world(web_site, dbconn):
    return World(web_site, dbconn)


def thread_ids(page):
    return re.findall(r'href="/inbox/([0-9a-f-]{36})"', page.text)


def older_link(page):
    m = re.search(r'<a href="(/inbox\?[^"]*)" rel="next">Older</a>', page.text)
    return html.unescape(m.group(1)) if m else None


# --- the list ----------------------------------------------------------------

def test_inbox_lists_threads_newest_first_with_senders_unread_star_and_count(world):
    old, _ = world.thread(subject="Old news", messages=[{"internal_date": "2026-10-01T08:00:00Z"}])
    new, _ = world.thread(subject="Contract", messages=[
        {"from_addr": "Zoe Client <zoe@client.test>", "label_ids": ["INBOX"]},
        {"from_addr": "ann@gmail.test", "label_ids": ["SENT"]},
        {"from_addr": '"Max, Buyer" <max@client.test>', "label_ids": ["INBOX", "UNREAD",
                                                                      "STARRED"]}])
    world.conn.execute("UPDATE rally.users SET time_zone = 'Asia/Tokyo' WHERE id = %s",
                       (world.ann_id,))
    page = world.ann.get("/inbox")
    assert page.status == 200, page
    assert thread_ids(page) == [new, old]
    row = page.text[page.text.index(new) - 400:page.text.index("Old news")]
    assert 'class="unread"' in row and "Starred" in row
    assert "Zoe Client, me, Max, Buyer" in html.unescape(row)
    assert "<td>3</td>" in row and "Hello number 2" in row
    # 12 Nov 09:00 UTC is 18:00 in Tokyo: dates are the user's.
    assert 'datetime="2026-11-12T09:00:00Z">12 Nov 2026</time>' in page.text
    assert "Sent" in row and "Inbox" in row


def test_views_inbox_starred_sent_all_and_trash(world):
    inbox, _ = world.thread(subject="In the inbox")
    starred, _ = world.thread(subject="Starred one", messages=[{"label_ids": ["STARRED"]}])
    sent, _ = world.thread(subject="Sent one", messages=[{"label_ids": ["SENT"]}])
    trash, _ = world.thread(subject="Trashed", messages=[{"label_ids": ["TRASH"]}])
    spam, _ = world.thread(subject="Spam", messages=[{"label_ids": ["SPAM"]}])
    expect = {"inbox": {inbox}, "starred": {starred}, "sent": {sent}, "trash": {trash},
              "all": {inbox, starred, sent}}
    for view, ids in expect.items():
        page = world.ann.get(f"/inbox?f={view}")
        assert page.status == 200 and set(thread_ids(page)) == ids, view
        assert 'aria-current="page"' in page.text
    assert spam not in world.ann.get("/inbox?f=all").text
    for bad in ("/inbox?f=spam", "/inbox?s=everyone", "/inbox?before=12", "/inbox?before=x&after="
                + str(uuid.uuid4()), "/inbox?before=1&after=not-a-uuid"):
        r = world.ann.get(bad)
        assert r.status == 400 and "no such view" in r.text, bad


def test_keyset_pagination_has_every_thread_once_in_order(world):
    # 121 threads, some sharing a date: the id breaks the tie.
    for i in range(121):
        world.thread(subject=f"Thread {i:03d}", messages=[
            {"internal_date": f"2026-11-{1 + i // 7:02d}T10:00:00Z"}])
    seen, pages, path = [], 0, "/inbox"
    while path:
        page = world.ann.get(path)
        assert page.status == 200
        ids = thread_ids(page)
        assert len(ids) == (50 if pages < 2 else 21)
        seen += ids
        pages += 1
        path = older_link(page)
        if pages == 1:
            # Mail arriving between pages moves nothing on the next one.
            world.thread(subject="Just in", messages=[{"internal_date": "2026-12-01T00:00:00Z"}])
        if pages > 1:
            assert "Newest" in page.text
    assert pages == 3 and len(seen) == len(set(seen)) == 121
    order = world.conn.execute("SELECT id::text FROM rally.mail_threads WHERE subject <> 'Just in'"
                               " ORDER BY last_message_at DESC, id DESC").fetchall()
    assert seen == [r[0] for r in order]


def test_a_user_without_gmail_is_told_to_connect_google(world):
    world.conn.execute("UPDATE rally.google_connections SET mail_enabled = false, "
                       "calendar_enabled = false WHERE id = %s", (world.ann_conn,))
    for path in ("/inbox", "/inbox/compose"):
        page = world.ann.get(path)
        assert page.status == 200 and "Connect Google first" in page.text
        assert 'href="/integrations"' in page.text
    world.ann.get("/inbox")
    r = world.ann.post("/inbox/send", {"to": "x@client.test", "subject": "Hi", "body": "x"})
    assert r.status == 409 and "Connect Google" in r.text, world.site.logs()[-3000:]
    assert world.counts()[1] == 0


def test_signed_out_the_inbox_sends_to_sign_in(world):
    t, [m] = world.thread()
    anon = world.site.client()
    for path in ("/inbox", f"/inbox/{t}", f"/inbox/message/{m}/html", "/inbox/compose"):
        r = anon.get(path)
        assert r.status == 303 and r.header("location") == "/signin", path


# --- a thread ----------------------------------------------------------------

def test_thread_shows_messages_headers_bodies_and_attachments(world):
    t, ids = world.thread(subject="Offer", messages=[
        {"from_addr": "Zoe Client <zoe@client.test>", "cc_addrs": ["Cc Person <cc@client.test>"],
         "body_text": "First line\nsecond line", "label_ids": ["INBOX"]},
        {"from_addr": "Max <max@client.test>", "body_text": None,
         "body_html": "<p>Rich <b>offer</b></p>", "reply_to": "sales@client.test",
         "attachments": '[{"filename": "offer.pdf", "mime_type": "application/pdf",'
                        ' "size": 20480, "attachment_id": "a1"}]'}])
    page = world.ann.get(f"/inbox/{t}")
    assert page.status == 200
    text = page.text
    assert "<h1>Offer</h1>" in text
    assert text.index("Zoe Client") < text.index("Max &lt;max@client.test&gt;")
    assert '<pre class="mail">First line\nsecond line</pre>' in text
    assert "Cc Person &lt;cc@client.test&gt;" in text and "sales@client.test" in text
    assert (f'<iframe class="mail" sandbox src="/inbox/message/{ids[1]}/html" '
            f'title="Message from Max &lt;max@client.test&gt;"') in text
    assert "Rich <b>offer</b>" not in text           # only in the frame
    assert "offer.pdf" in text and "application/pdf" in text and "20 kB" in text
    assert "open the message in Gmail" in text
    gmail_ids = [r[0] for r in world.conn.execute(
        "SELECT gmail_id FROM rally.mail_messages WHERE thread_id = %s"
        " ORDER BY internal_date", (t,))]
    for g in gmail_ids:
        assert (f'<a href="https://mail.google.com/mail/?authuser=ann%40gmail.test#all/{g}" '
                f'rel="noreferrer">Open in Gmail</a>') in text
    body = world.ann.get(f"/inbox/message/{ids[1]}/html")
    assert body.status == 200 and body.text == "<p>Rich <b>offer</b></p>"
    assert body.header("content-security-policy") == MAIL_CSP
    assert body.header("x-content-type-options") == "nosniff"
    assert body.header("content-type") == "text/html; charset=utf-8"
    # A message without HTML has no frame to serve.
    assert world.ann.get(f"/inbox/message/{ids[0]}/html").status == 404


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\"><svg onload=alert(1)>",
    "'><a href='javascript:alert(1)'>x</a>",
    "</iframe><script>alert(2)</script>",
    "</pre><script>alert(3)</script>",
    "</textarea><script>alert(4)</script>",
    "+ADw-script+AD4-alert(5)+ADw-/script+AD4-",
    "<a href=\"javascript:alert(6)\">click</a>",
    "<body onload=alert(7)>",
    "{{7*7}}<style>@import 'http://evil.test/x.css';</style>",
]


def test_hostile_mail_is_escaped_everywhere_and_html_is_only_framed(world):
    threads = []
    for i, x in enumerate(XSS):
        t, ids = world.thread(subject=x, messages=[
            {"from_addr": f'"{x}" <evil{i}@client.test>', "to_addrs": [f"{x} <a@b.test>"],
             "cc_addrs": [x], "body_text": x, "snippet": x,
             "attachments": '[{"filename": %s, "mime_type": "text/html", "size": 1}]'
                            % __import__("json").dumps(x)},
            {"from_addr": "plain@client.test", "body_html": x + "<p>hi</p>" + x,
             "body_text": None}])
        threads.append((t, ids))
    pages = [world.ann.get("/inbox"), world.ann.get("/inbox?f=all")]
    pages += [world.ann.get(f"/inbox/{t}") for t, _ in threads]
    for page in pages:
        assert page.status == 200
        assert page.header("content-type") == "text/html; charset=utf-8"
        assert "script-src" not in page.header("content-security-policy")
        lower = page.text.lower()
        assert "<script" not in lower and "<svg" not in lower and "<img" not in lower
        assert "<style" not in lower and "<body onload" not in lower
        assert "javascript:" not in re.sub(r"&[a-z#0-9]+;", "", " ".join(
            re.findall(r'(?:href|src)="([^"]*)"', page.text)))
        assert not re.search(r"<[^>]+\son[a-z]+=", page.text)
        for x in XSS:
            if "<" in x or '"' in x or "'" in x:
                assert x not in page.text
    # Each one is there, as text.
    thread_page = pages[2].text
    assert html.escape(XSS[0], quote=True) in thread_page
    # HTML bodies: served apart, sandboxed, never inline.
    for t, ids in threads:
        body = world.ann.get(f"/inbox/message/{ids[1]}/html")
        assert body.status == 200 and body.header("content-security-policy") == MAIL_CSP
        assert body.header("x-frame-options") == "SAMEORIGIN"


# --- sharing and tenancy -------------------------------------------------------

def test_teammates_see_shared_threads_never_private_ones(world):
    shared, [sm] = world.thread(subject="Shared deal", visibility="shared")
    private, [pm] = world.thread(subject="Private matter")
    team = world.bo.get("/inbox?s=team")
    assert team.status == 200 and thread_ids(team) == [shared]
    assert "Ann Owner" in team.text                # who shared it
    assert private not in world.bo.get("/inbox?f=all").text
    page = world.bo.get(f"/inbox/{shared}")
    assert page.status == 200 and "Shared deal" in page.text
    assert "Only they can change or answer it" in page.text
    assert f"/inbox/{shared}/act" not in page.text and "/reply" not in page.text
    assert "Open in Gmail" not in page.text          # not Bo's Gmail
    assert world.bo.get(f"/inbox/message/{sm}/html").status == 404       # no HTML body
    assert world.bo.get(f"/inbox/{private}").status == 404
    before = world.counts()
    r = world.bo.post(f"/inbox/{shared}/act", {"op": "private"})
    assert r.status == 403
    r = world.bo.post(f"/inbox/{shared}/act", {"op": "trash"})
    assert r.status == 403
    assert world.bo.post(f"/inbox/{private}/act", {"op": "share"}).status == 404
    assert world.bo.post(f"/inbox/{shared}/reply", {"body": "hi"}).status == 404
    assert world.counts() == before
    # The owner makes it private again: the teammate loses it.
    world.ann.get(f"/inbox/{shared}")
    r = world.ann.post(f"/inbox/{shared}/act", {"op": "private"})
    assert r.status == 303 and r.header("location") == f"/inbox/{shared}?done=private"
    assert "Private again" in world.ann.get(r.header("location")).text
    assert world.bo.get(f"/inbox/{shared}").status == 404
    assert world.bo.get("/inbox?s=team").text.count("/inbox/" + shared) == 0


def test_another_tenants_ids_are_404_on_every_route_and_change_nothing(world):
    t, [m1, m2] = world.thread(subject="Acme secret", visibility="shared", messages=[
        {}, {"body_html": "<p>secret</p>"}])
    world.ann.get(f"/inbox/{t}")
    world.ann.post(f"/inbox/{t}/reply", {"body": "Thanks"})
    [oid] = world.conn.execute("SELECT id FROM rally.mail_outbox").fetchone()
    world.conn.execute("UPDATE rally.mail_outbox SET state = 'failed'")
    before = world.counts()
    cy = world.cy
    cy.get("/inbox")
    assert "Acme secret" not in cy.get("/inbox?s=team").text
    gets = [f"/inbox/{t}", f"/inbox/message/{m1}/html", f"/inbox/message/{m2}/html",
            f"/inbox/{m1}", f"/inbox/message/{t}/html"]
    for path in gets:
        r = cy.get(path)
        assert r.status == 404 and "secret" not in r.text, path
    posts = [(f"/inbox/{t}/act", {"op": op}) for op in
             ("read", "unread", "archive", "unarchive", "star", "unstar", "trash", "untrash",
              "share", "private")]
    posts += [(f"/inbox/{t}/reply", {"body": "hi"}), (f"/inbox/outbox/{oid}/cancel", {}),
              (f"/inbox/outbox/{oid}/retry", {})]
    for path, form in posts:
        r = cy.post(path, form)
        assert r.status == 404, (path, r.status)
    # Malformed ids are the same 404.
    for path in ("/inbox/not-a-uuid", "/inbox/message/xyz/html", f"/inbox/{t}x",
                 "/inbox/message//html", f"/inbox/{t.upper()}z/act"):
        assert world.ann.get(path).status in (404, 405), path
    assert world.ann.post("/inbox/1234/act", {"op": "read"}).status == 404
    assert world.counts() == before
    # The owner, asked with upper case, still finds it (canonical form).
    assert world.ann.get(f"/inbox/{t.upper()}").status == 200


# --- actions -------------------------------------------------------------------

def test_actions_queue_label_changes_and_say_they_wait_for_gmail(world):
    t, _ = world.thread(subject="Act on me", messages=[{"label_ids": ["INBOX", "UNREAD"]}])
    page = world.ann.get(f"/inbox/{t}")
    for label in ("Mark as read", "Archive", "Star", "Move to Trash", "Share with the team"):
        assert f">{label}</button>" in page.text, label
    for op in ("read", "star", "archive"):
        r = world.ann.post(f"/inbox/{t}/act", {"op": op})
        assert r.status == 303 and r.header("location") == f"/inbox/{t}?done={op}"
    ops = world.conn.execute("SELECT op, state, thread_id::text, user_id FROM"
                             " rally.mail_label_ops ORDER BY id").fetchall()
    assert ops == [(op, "pending", t, uuid.UUID(world.ann_id)) for op in ("read", "star", "archive")]
    assert world.one("SELECT count(*) FROM rally.jobs WHERE kind = 'maillabel'") == 1
    page = world.ann.get(f"/inbox/{t}?done=archive")
    assert "Archived." in page.text and page.text.count("Waiting to reach Gmail") == 3
    # The buttons follow what was asked for.
    assert ">Mark as unread</button>" in page.text and ">Unstar</button>" in page.text
    assert ">Move to Inbox</button>" in page.text
    assert "Changes waiting to reach Gmail" in world.ann.get("/inbox").text
    # Gmail refused one: the reason shows.
    world.conn.execute("UPDATE rally.mail_label_ops SET state = 'failed',"
                       " last_error = 'Label not allowed <b>' WHERE op = 'star'")
    page = world.ann.get(f"/inbox/{t}")
    assert "Gmail refused" in page.text and "Label not allowed &lt;b&gt;" in page.text
    assert world.ann.post(f"/inbox/{t}/act", {"op": "explode"}).status == 400
    assert world.ann.post(f"/inbox/{t}/act", {"op": "read"}, csrf=False).status == 403


def test_get_changes_nothing(world):
    t, [m] = world.thread(messages=[{"label_ids": ["INBOX", "UNREAD"], "body_html": "<p>x</p>"}])
    before = world.counts()
    for path in ("/inbox", f"/inbox/{t}", f"/inbox/message/{m}/html", "/inbox/compose",
                 "/inbox/outbox", f"/inbox/{t}?done=read"):
        assert world.ann.get(path).status == 200
    assert world.counts() == before
    assert world.ann.get(f"/inbox/{t}/act").status == 405


class Markup(HTMLParser):
    """Every element closed in order; ids and headings collected."""
    VOID = {"meta", "link", "input", "br", "hr", "img"}

    def __init__(self, text):
        super().__init__()
        self.stack, self.errors, self.ids, self.headings = [], [], [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.ids += [v for k, v in attrs if k == "id"]
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append((tag, self.stack[-3:]))


def test_pages_are_well_formed_with_unique_ids_and_headings_in_order(world):
    t, _ = world.thread(subject="Offer", messages=[
        {"label_ids": ["INBOX", "UNREAD", "STARRED"]},
        {"body_html": "<p>x</p>", "attachments": '[{"filename": "a.pdf", "size": 1}]'}])
    shared, _ = world.thread(subject="Shared", visibility="shared")
    world.ann.get(f"/inbox/{t}")
    world.ann.post(f"/inbox/{t}/act", {"op": "star"})
    world.ann.post(f"/inbox/{t}/reply", {"body": "Thanks"})
    world.conn.execute("UPDATE rally.mail_outbox SET state = 'failed', last_error = 'x'")
    pages = [world.ann.get(path) for path in (
        f"/inbox/{t}?done=star", "/inbox", "/inbox?s=team", "/inbox?f=trash", "/inbox/compose",
        "/inbox/outbox?done=queued")] + [world.bo.get(f"/inbox/{shared}")]
    for page in pages:
        m = Markup(page.text)
        assert not m.errors and m.stack == [], (page, m.errors, m.stack)
        assert len(m.ids) == len(set(m.ids)), m.ids
        assert m.headings[0] == 1 and all(b - a <= 1 for a, b in zip(m.headings,
                                                                      m.headings[1:])), m.headings
        # Every input but the hidden CSRF field has its label.
        for tag in re.findall(r"<(?:input|textarea|select)\b[^>]*>", page.text):
            if 'type="hidden"' in tag:
                continue
            field = re.search(r' id="([^"]+)"', tag).group(1)
            assert f'<label for="{field}">' in page.text, field


# --- compose and reply ---------------------------------------------------------

def outbox_rows(world):
    cur = world.conn.execute("SELECT * FROM rally.mail_outbox ORDER BY queued_at")
    cols = [c.name for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def test_compose_queues_a_message_from_the_gmail_account(world):
    page = world.ann.get("/inbox/compose")
    for field in ("to", "cc", "subject", "body"):
        assert f'<label for="{field}">' in page.text and f'id="{field}"' in page.text
    r = world.ann.post("/inbox/send", {
        "to": 'zoe@client.test, "Doe, Jane" <jane@client.test>', "cc": "Max <max@client.test>",
        "subject": "Grüße — Q3", "body": "Hello Zoë,\nsee you.\n"})
    assert r.status == 303 and r.header("location") == "/inbox/outbox?done=queued"
    [row] = outbox_rows(world)
    assert row["from_addr"] == "ann@gmail.test" and str(row["connection_id"]) == world.ann_conn
    assert row["to_addrs"] == ["zoe@client.test", '"Doe, Jane" <jane@client.test>']
    assert row["cc_addrs"] == ["Max <max@client.test>"]
    assert row["subject"] == "Grüße — Q3" and row["body_text"] == "Hello Zoë,\nsee you.\n"
    assert re.fullmatch(r"<[0-9a-f-]{36}@gmail\.test>", row["message_id"])
    assert row["thread_id"] is None and row["state"] == "queued"
    assert world.one("SELECT count(*) FROM rally.jobs WHERE kind = 'mailsend'") == 1
    page = world.ann.get("/inbox/outbox?done=queued")
    assert "Your message is queued" in page.text and ">Queued</span>" in page.text
    # Taken back while queued.
    world.ann.post(f"/inbox/outbox/{row['id']}/cancel")
    assert outbox_rows(world) == []


@pytest.mark.parametrize("form, words", [
    ({"to": ""}, "at least one address"),
    ({"to": "not an address"}, "is not an email address"),
    ({"to": "ok@client.test, jürgen@client.test"}, "jürgen@client.test"),
    ({"cc": "bad@@client.test"}, "in Cc is not an email address"),
    ({"subject": "Hi\r\nBcc: victim@client.test"}, "Line breaks are not allowed"),
    ({"subject": "Hi\nBcc: victim@client.test"}, "Line breaks are not allowed"),
    ({"to": "a@client.test\r\nBcc: victim@client.test"}, "Line breaks are not allowed"),
    ({"cc": "a@client.test\rX-Evil: 1"}, "Line breaks are not allowed"),
    ({"to": ", ".join(f"p{i}@client.test" for i in range(501))}, "at most 500"),
    ({"subject": "x" * 5000}, "subject is too long"),
])
def test_compose_refuses_bad_input_with_words(world, form, words):
    world.ann.get("/inbox/compose")
    f = {"to": "zoe@client.test", "cc": "", "subject": "Hello", "body": "Hi"}
    f.update(form)
    r = world.ann.post("/inbox/send", f)
    assert r.status == 400 and words in html.unescape(r.text), r.text[-2000:]
    assert 'role="alert"' in r.text and '<label for="to">' in r.text
    assert outbox_rows(world) == []


def test_reply_takes_its_headers_from_the_thread_never_the_form(world):
    t, _ = world.thread(subject="Proposal", messages=[
        {"from_addr": "Zoe Client <zoe@client.test>", "rfc822_message_id": "<p1@client.test>"},
        {"from_addr": "Max <max@client.test>", "reply_to": "Max Sales <sales@client.test>",
         "rfc822_message_id": "<p2@client.test>", "references_header": "<p1@client.test>"}])
    page = world.ann.get(f"/inbox/{t}")
    # The form says where the reply goes before it is written.
    form = page.text[page.text.index('<h2 id="reply">'):]
    assert "<dt>To</dt><dd>Max Sales &lt;sales@client.test&gt;</dd>" in form
    assert "<dt>Subject</dt><dd>Re: Proposal</dd>" in form
    assert "<dt>From</dt><dd>ann@gmail.test</dd>" in form
    r = world.ann.post(f"/inbox/{t}/reply", {
        "body": "Thanks, agreed.", "to": "evil@attacker.test", "subject": "Bcc: x",
        "in_reply_to": "<evil@attacker.test>", "thread_id": str(uuid.uuid4())})
    assert r.status == 303 and r.header("location") == f"/inbox/{t}?done=replied"
    [row] = outbox_rows(world)
    assert str(row["thread_id"]) == t
    assert row["to_addrs"] == ["Max Sales <sales@client.test>"] and row["cc_addrs"] == []
    assert row["subject"] == "Re: Proposal" and row["body_text"] == "Thanks, agreed."
    assert row["in_reply_to"] == "<p2@client.test>"
    assert row["references_header"] == "<p1@client.test> <p2@client.test>"
    page = world.ann.get(f"/inbox/{t}?done=replied")
    assert "Your reply is queued" in page.text and ">Queued</span>" in page.text
    # Its states as rallyd moves it.
    world.conn.execute("UPDATE rally.mail_outbox SET state = 'sending', attempts = 1")
    assert ">Sending</span>" in world.ann.get(f"/inbox/{t}").text
    world.conn.execute("UPDATE rally.mail_outbox SET state = 'failed',"
                       " last_error = 'Invalid To header <x>'")
    page = world.ann.get(f"/inbox/{t}")
    assert ">Not sent</span>" in page.text and "Invalid To header &lt;x&gt;" in page.text
    outbox = world.ann.get("/inbox/outbox")
    assert ">Not sent</span>" in outbox.text and ">Send again</button>" in outbox.text
    assert world.ann.post(f"/inbox/{t}/reply", {"body": "  "}).status == 400
    # Sent again: a new message (a new Message-ID), the failure kept.
    r = world.ann.post(f"/inbox/outbox/{row['id']}/retry")
    assert r.status == 303 and r.header("location") == "/inbox/outbox?done=again"
    old, new = outbox_rows(world)
    assert (old["state"], new["state"]) == ("failed", "queued")
    assert new["message_id"] != old["message_id"] and new["in_reply_to"] == "<p2@client.test>"
    assert (new["thread_id"], new["to_addrs"], new["body_text"]) == (
        old["thread_id"], old["to_addrs"], old["body_text"])
    # Only a failed one.
    r = world.ann.post(f"/inbox/outbox/{new['id']}/retry")
    assert r.header("location") == "/inbox/outbox?done=notagain"
    assert len(outbox_rows(world)) == 2


def test_reply_to_a_thread_of_my_own_goes_to_its_recipients(world):
    t, _ = world.thread(subject="Re: Intro", messages=[
        {"from_addr": "Ann <ann@gmail.test>", "to_addrs": ["Zoe <zoe@client.test>"],
         "label_ids": ["SENT"]}])
    world.ann.get(f"/inbox/{t}")
    r = world.ann.post(f"/inbox/{t}/reply", {"body": "Any news?"})
    assert r.status == 303, world.site.logs()[-3000:]
    [row] = outbox_rows(world)
    assert row["to_addrs"] == ["Zoe <zoe@client.test>"] and row["subject"] == "Re: Intro"


def test_reply_to_an_address_rally_cannot_send_to_is_refused_with_words(world):
    t, _ = world.thread(subject="Odd", messages=[{"from_addr": "Mailer Daemon"}])
    world.ann.get(f"/inbox/{t}")
    r = world.ann.post(f"/inbox/{t}/reply", {"body": "Hello?"})
    assert r.status == 422 and "Reply from Gmail instead" in r.text
    assert "is not an email address" in html.unescape(r.text)
    assert outbox_rows(world) == []


# --- the cost of a page ----------------------------------------------------------

LIST_SQL = (
    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT t.id, t.subject, t.snippet,"
    " array_to_string(t.correspondents, ', '), 'UNREAD' = any (t.label_ids),"
    " EXISTS (SELECT 1 FROM rally.mail_label_ops o WHERE o.tenant_id = t.tenant_id"
    " AND o.thread_id = t.id AND o.state = 'pending') FROM rally.mail_threads t"
    " WHERE t.tenant_id = rally.current_tenant() AND t.user_id = rally.current_user_id()"
    " AND {where} AND t.last_message_at IS NOT NULL{key}"
    " ORDER BY t.last_message_at DESC, t.id DESC LIMIT 51")


def plan_nodes(plan):
    yield plan
    for p in plan.get("Plans", []):
        yield from plan_nodes(p)


def test_inbox_query_is_an_index_range_scan_without_sort(world, pg, db, login_roles):
    """20,000 threads (and as many messages) in Ann's mailbox and 20,000 in
    Bo's: every view of the page is a scan of its own index that stops
    after one page, whatever the mailbox holds."""
    for user, conn in ((world.ann_id, world.ann_conn), (world.bo_id, world.bo_conn)):
        world.conn.execute(
            "INSERT INTO rally.mail_threads (tenant_id, user_id, connection_id, gmail_thread_id,"
            " subject, message_count, last_message_at, label_ids, hidden)"
            " SELECT %s, %s, %s, 'bulk' || i, 'Bulk ' || i, 1,"
            " timestamptz '2026-01-01' + i * interval '7 minutes',"
            " CASE WHEN i %% 10 = 0 THEN '{STARRED,INBOX}' WHEN i %% 7 = 0 THEN '{SENT}'"
            " WHEN i %% 50 = 0 THEN '{TRASH}' ELSE '{INBOX}' END::text[], i %% 50 = 0"
            " FROM generate_series(1, 20000) i", (world.acme, user, conn))
        world.conn.execute(
            "INSERT INTO rally.mail_messages (tenant_id, thread_id, user_id, connection_id,"
            " gmail_id, subject, internal_date) SELECT tenant_id, id, user_id, connection_id,"
            " 'g' || gmail_thread_id, subject, last_message_at FROM rally.mail_threads"
            " WHERE user_id = %s", (user,))
    world.conn.execute("ANALYZE rally.mail_threads")
    world.conn.execute("ANALYZE rally.mail_messages")
    views = {"'INBOX' = any (t.label_ids)": "mail_threads_inbox",
             "'STARRED' = any (t.label_ids)": "mail_threads_starred",
             "'SENT' = any (t.label_ids)": "mail_threads_sent",
             "'TRASH' = any (t.label_ids)": "mail_threads_trash",
             "not t.hidden": "mail_threads_all"}
    # A key in the middle of the mailbox (15 February): the scan starts there.
    key = (" AND (t.last_message_at, t.id) < ('epoch'::timestamptz + 1771113600000000 *"
           " interval '1 microsecond', 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)")
    with pg.connect(db, user=login_roles["web"]) as web:
        web.execute("SELECT set_config('rally.tenant_id', %s, false),"
                    " set_config('rally.user_id', %s, false)",
                    (str(world.acme), str(world.ann_id)))
        for where, index in views.items():
            for k in ("", key):
                [[out]] = web.execute(LIST_SQL.format(where=where, key=k)).fetchall()
                nodes = list(plan_nodes(out[0]["Plan"]))
                types = [n["Node Type"] for n in nodes]
                assert "Sort" not in types and "Seq Scan" not in types, (where, types)
                scans = [n for n in nodes if "Index" in n["Node Type"]
                         and n.get("Relation Name") == "mail_threads"]
                assert [n["Index Name"] for n in scans] == [index], (where, scans)
                assert scans[0]["Actual Rows"] <= 51, (where, scans[0]["Actual Rows"])
                assert scans[0].get("Rows Removed by Filter", 0) == 0, (where, scans[0])
                assert out[0]["Plan"]["Shared Hit Blocks"] + \
                    out[0]["Plan"].get("Shared Read Blocks", 0) < 200
        # The team's view: every member's shared threads, one index too.
        world.conn.execute("UPDATE rally.mail_threads SET visibility = 'shared'"
                           " WHERE gmail_thread_id LIKE 'bulk%%' AND random() < 0.5")
        world.conn.execute("ANALYZE rally.mail_threads")
        sql = LIST_SQL.format(where="t.visibility = 'shared' and not t.hidden", key="").replace(
            " AND t.user_id = rally.current_user_id()", "").replace(
            " FROM rally.mail_threads t", ", u.name FROM rally.mail_threads t"
            " JOIN rally.users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id")
        [[out]] = web.execute(sql).fetchall()
        nodes = list(plan_nodes(out[0]["Plan"]))
        assert "Sort" not in [n["Node Type"] for n in nodes]
        assert [n["Index Name"] for n in nodes if n.get("Relation Name") == "mail_threads"] \
            == ["mail_threads_shared"]
    # And the page itself, through the CGI, is the same 50.
    page = world.ann.get("/inbox")
    assert page.status == 200 and len(thread_ids(page)) == 50
    assert len(thread_ids(world.ann.get(older_link(page)))) == 50


# --- with rallyd and the Google emulator -----------------------------------------------

@pytest.fixture
def gmail(pg, db, login_roles, fakegoogle, tmp_path, web_site):
    from rallytest.mail import Mail
    (tmp_path / "mail").mkdir()
    m = Mail(pg, db, login_roles, fakegoogle, tmp_path / "mail", "ada")
    m.fg.admin("POST", "/__admin/accounts", {"email": m.google_email})
    yield m
    m.close()


def test_mail_synced_from_gmail_is_read_answered_and_organized_from_the_page(gmail, web_site):
    from rallytest.calendar import PASSWORD
    from rallytest.google import SCOPE_GMAIL_MODIFY
    first = gmail.g_deliver(
        "From: Ann Client <ann@mail.test>\r\nTo: " + gmail.google_email + "\r\n"
        "Subject: Proposal <b>v2</b>\r\nMessage-ID: <proposal-1@mail.test>\r\n\r\n"
        "Here it is: <script>alert(1)</script>\r\n")
    gmail.connect()
    gmail.start()
    gmail.settle()
    c = web_site.client()
    c.signin(gmail.user_email, PASSWORD)
    page = c.get("/inbox")
    assert "Proposal &lt;b&gt;v2&lt;/b&gt;" in page.text and "Ann Client" in page.text
    [t] = thread_ids(page)
    page = c.get(f"/inbox/{t}")
    assert "Here it is: &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>" not in page.text

    r = c.post(f"/inbox/{t}/reply", {"body": "Thank you, Ann."})
    assert r.status == 303
    for op in ("star", "archive"):
        assert c.post(f"/inbox/{t}/act", {"op": op}).status == 303
    # (rallyd may already have applied them: the wait is not asserted.)
    gmail.settle()

    [[mid, state]] = gmail.conn.execute("SELECT message_id, state FROM rally.mail_outbox")
    assert state == "sent"
    access = gmail.fg.access_token(gmail.google_email, (SCOPE_GMAIL_MODIFY,))
    q = urllib.parse.quote(f"rfc822msgid:{mid}")
    status, found = gmail.fg.request("GET", f"/gmail/v1/users/me/messages?q={q}", token=access)
    assert status == 200 and len(found["messages"]) == 1
    status, sent = gmail.fg.request(
        "GET", f"/gmail/v1/users/me/messages/{found['messages'][0]['id']}?format=metadata",
        token=access)
    headers = {h["name"].lower(): h["value"] for h in sent["payload"]["headers"]}
    assert sent["threadId"] == first["threadId"] and "SENT" in sent["labelIds"]
    assert headers["in-reply-to"] == "<proposal-1@mail.test>"
    assert headers["subject"] == "Re: Proposal <b>v2</b>"
    assert "ann@mail.test" in headers["to"]
    labels = gmail.g_messages()[first["id"]]["labelIds"]
    assert "STARRED" in labels and "INBOX" not in labels

    # The reply comes back into the thread; the page shows Gmail's state.
    gmail.sync()
    wait_until(lambda: gmail.conn.execute("SELECT message_count FROM rally.mail_threads"
                                          " WHERE id = %s", (t,)).fetchone()[0] == 2,
               timeout=30, message="the reply synced back")
    page = c.get(f"/inbox/{t}")
    assert "Waiting to reach Gmail" not in page.text
    assert "Thank you, Ann." in page.text and "Your replies from Rally" not in page.text
    assert ">Unstar</button>" in page.text and ">Move to Inbox</button>" in page.text
    assert t not in c.get("/inbox").text and t in c.get("/inbox?f=starred").text


# --- migration 0035 on a database with mail ---------------------------------------

def test_migration_0035_summarizes_the_threads_already_stored(pg, tmp_path):
    """A database migrated before 0035 with synced mail in it: after the
    migration, its threads are in the right views with their senders."""
    import os
    from rallytest.schema import apply_migrations, migrations_dir, insert
    old = tmp_path / "migrations"
    old.mkdir()
    for f in sorted(os.listdir(migrations_dir())):
        if f < "0035":
            os.symlink(os.path.join(migrations_dir(), f), old / f)
    name = pg.create_database()
    try:
        with pg.connect(name) as conn:
            apply_migrations(conn, str(old), functions=False)
            t = insert(conn, "tenants", "tenant_id", name="Acme")
            u = insert(conn, "users", "id", tenant_id=t, email="a@x.test",
                       password_hash="$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
            c = insert(conn, "google_connections", "id", tenant_id=t, user_id=u,
                       google_email="a@gmail.test", google_subject="s", mail_enabled=True)
            th = insert(conn, "mail_threads", "id", tenant_id=t, user_id=u, connection_id=c,
                        gmail_thread_id="t1", last_message_at="2026-11-02T00:00:00Z")
            trash = insert(conn, "mail_threads", "id", tenant_id=t, user_id=u, connection_id=c,
                           gmail_thread_id="t2", last_message_at="2026-11-02T00:00:00Z")
            for i, (thread, frm, labels) in enumerate([
                    (th, "Zoe <zoe@client.test>", ["INBOX", "UNREAD"]),
                    (th, "A Me <a@gmail.test>", ["SENT"]),
                    (trash, "x@client.test", ["TRASH"])]):
                insert(conn, "mail_messages", "id", tenant_id=t, thread_id=thread, user_id=u,
                       connection_id=c, gmail_id=f"m{i}", from_addr=frm, label_ids=labels,
                       internal_date=f"2026-11-0{i + 1}T00:00:00Z")
            apply_migrations(conn, migrations_dir())
            rows = dict((r[0], r[1:]) for r in conn.execute(
                "SELECT id, label_ids, hidden, correspondents FROM rally.mail_threads"))
            assert rows[th] == (["INBOX", "SENT", "UNREAD"], False, ["Zoe", "me"])
            assert rows[trash] == (["TRASH"], True, ["x@client.test"])
    finally:
        with pg.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
