# SPDX-License-Identifier: ISC
"""Password reset, invitations and the team page of rally.cgi, over HTTP
through lighttpd as a rally_web login, with rallyd sending the emailed
links through a real SMTP server (docs/web.md, "Accounts, invitations and
the team")."""

import hashlib
import re

import pytest

from rallytest.daemon import Rallyd, wait_until
from rallytest.site import PASSWORD
from rallytest.smtp import SmtpSink

PUBLIC_URL = "https://crm.example.test"
EMAIL = "ann@acme.example"
NEW_PASSWORD = "a brand new secret"
LINK = re.compile(re.escape(PUBLIC_URL) + r"(/(?:reset|invite)/([A-Za-z0-9_-]{43}))")


@pytest.fixture
def site(web_site, pg, db, login_roles):
    web_site.configure(pg.conninfo(db, login_roles["web"]), web={"public_url": PUBLIC_URL})
    return web_site


@pytest.fixture
def sink():
    s = SmtpSink().start()
    yield s
    s.stop()


@pytest.fixture
def rallyd(daemon_conninfo, sink):
    d = Rallyd(daemon_conninfo, name="accounts", extra={"smtp": sink.config()}).start()
    yield d
    d.close()


def mails_to(sink, address):
    return [m for _, rcpt, m in sink.received() if rcpt == [address]]


def link_in_mail(sink, address, n=1):
    """The path and token of the link in the n-th mail to address."""
    wait_until(lambda: len(mails_to(sink, address)) >= n, timeout=30,
               message=f"mail {n} to {address}")
    body = mails_to(sink, address)[n - 1].get_content()
    m = LINK.search(body)
    assert m, body
    return m.group(1), m.group(2)


def owner(site, company="Acme Ltd", email=EMAIL, name="Ann Owner"):
    c = site.client()
    c.signup(company=company, email=email, name=name)
    return c


def tenant_of(dbconn, email):
    return dbconn.execute("SELECT tenant_id FROM rally.users WHERE email = %s",
                          (email,)).fetchone()[0]


def add_member(dbconn, tenant, email, role="member", name=None):
    """A member with PASSWORD (the owner's hash, which verifies it too)."""
    return dbconn.execute(
        "INSERT INTO rally.users (tenant_id, email, name, role, password_hash) "
        "SELECT %s, %s, %s, %s, password_hash FROM rally.users "
        "WHERE tenant_id = %s AND role = 'owner' LIMIT 1 RETURNING id",
        (tenant, email, name or email.split("@")[0].title(), role, tenant)).fetchone()[0]


def signed_in(site, email):
    c = site.client()
    c.signin(email)
    return c


def user_sessions(dbconn, email):
    return dbconn.execute("SELECT count(*) FROM rally.sessions s JOIN rally.users u "
                          "ON u.tenant_id = s.tenant_id AND u.id = s.user_id "
                          "WHERE u.email = %s", (email,)).fetchone()[0]


def ask_reset(site, email, headers=None):
    c = site.client()
    c.get("/reset")
    return c.post("/reset", {"email": email}, headers=headers)


# --- password reset ----------------------------------------------------------

def test_reset_link_by_email_sets_a_new_password_and_ends_every_session(
        site, sink, rallyd, dbconn):
    laptop = owner(site)
    phone = signed_in(site, EMAIL)
    assert user_sessions(dbconn, EMAIL) == 2
    # The link is built from web.public_url, never from the Host header.
    r = ask_reset(site, EMAIL, headers={"Host": "evil.example"})
    assert r.status == 303 and r.header("location") == "/reset?done=sent"
    path, token = link_in_mail(sink, EMAIL)
    mail = mails_to(sink, EMAIL)[0]
    assert mail["Subject"] == "Reset your Rally password"
    assert "evil.example" not in mail.get_content()
    # Only the token's hash is stored, and the notice forgets the link once sent.
    stored = dbconn.execute("SELECT token_hash FROM rally.password_resets").fetchall()
    assert [bytes(h) for h, in stored] == [hashlib.sha256(token.encode()).digest()]
    wait_until(lambda: dbconn.execute("SELECT status FROM rally.notices WHERE body_secret"
                                      ).fetchone()[0] == "sent", message="notice sent")
    body = dbconn.execute("SELECT body_text FROM rally.notices WHERE body_secret").fetchone()[0]
    assert token not in body and "removed" in body

    c = site.client()
    form = c.get(path)
    assert form.status == 200 and EMAIL in form.text and "Acme Ltd" in form.text
    assert form.header("cache-control") == "no-store"
    assert form.header("referrer-policy") == "no-referrer"
    r = c.post(path, {"password": NEW_PASSWORD, "again": "something else"})
    assert r.status == 400 and "not the same" in r.text
    r = c.post(path, {"password": "short", "again": "short"})
    assert r.status == 400 and "10 characters" in r.text
    r = c.post(path, {"password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert r.status == 303 and r.header("location") == "/signin?done=reset"

    # Signed out everywhere; the old password no longer works, the new one does.
    assert user_sessions(dbconn, EMAIL) == 0
    assert laptop.get("/").status == 303 and phone.get("/").status == 303
    fresh = site.client()
    fresh.get("/signin")
    assert fresh.post("/signin", {"email": EMAIL, "password": PASSWORD}).status == 403
    fresh.signin(EMAIL, NEW_PASSWORD)
    # Single use.
    assert c.get(path).status == 404
    assert c.post(path, {"password": "yet another one", "again": "yet another one"}
                  ).status == 404
    assert dbconn.execute("SELECT count(*) FROM rally.password_resets").fetchone()[0] == 0
    # The link reached the address: it is confirmed (migration 0064).
    assert dbconn.execute("SELECT email_confirmed_at IS NOT NULL FROM rally.users"
                          " WHERE email = %s", (EMAIL,)).fetchone() == (True,)
    # The token reached no log: not lighttpd's, not rally.cgi's, not rallyd's.
    assert token not in site.logs() and token not in rallyd.output()


def test_a_changed_address_voids_the_reset_links_mailed_to_the_old_one(
        site, sink, rallyd, dbconn):
    """Used after the account's address changed, a link mailed to the old
    one would confirm the new one (migration 0064), which anyone may set to
    someone else's."""
    owner(site)
    ask_reset(site, EMAIL)
    path, _ = link_in_mail(sink, EMAIL)
    dbconn.execute("UPDATE rally.users SET email = 'victim@elsewhere.example'"
                   " WHERE email = %s", (EMAIL,))
    assert dbconn.execute("SELECT count(*) FROM rally.password_resets").fetchone() == (0,)
    c = site.client()
    assert c.get(path).status == 404
    assert dbconn.execute("SELECT email_confirmed_at FROM rally.users"
                          " WHERE email = 'victim@elsewhere.example'").fetchone() == (None,)


def test_using_one_reset_link_voids_the_others(site, sink, rallyd, dbconn):
    owner(site)
    ask_reset(site, EMAIL)
    first, _ = link_in_mail(sink, EMAIL, 1)
    ask_reset(site, EMAIL)
    second, _ = link_in_mail(sink, EMAIL, 2)
    assert first != second
    c = site.client()
    c.get(second)
    assert c.post(second, {"password": NEW_PASSWORD, "again": NEW_PASSWORD}).status == 303
    r = c.get(first)
    assert r.status == 404 and "not valid" in r.text


def test_an_expired_reset_link_is_refused(site, sink, rallyd, dbconn):
    owner(site)
    ask_reset(site, EMAIL)
    path, _ = link_in_mail(sink, EMAIL)
    dbconn.execute("UPDATE rally.password_resets SET created_at = now() - interval '2 hours',"
                   " expires_at = now() - interval '1 hour'")
    c = site.client()
    assert c.get(path).status == 404
    c.get("/reset")
    assert c.post(path, {"password": NEW_PASSWORD, "again": NEW_PASSWORD}).status == 404
    site.client().signin(EMAIL)             # the password is unchanged


def test_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(
        site, sink, rallyd, dbconn):
    owner(site)
    unknown = ask_reset(site, "nobody@acme.example")
    known = ask_reset(site, EMAIL)
    assert (unknown.status, unknown.header("location")) == (303, "/reset?done=sent")
    assert (known.status, known.header("location")) == (303, "/reset?done=sent")
    page = site.client().get("/reset?done=sent")
    assert "If an account uses that address, we sent a link" in page.text
    link_in_mail(sink, EMAIL)
    wait_until(lambda: dbconn.execute(
        "SELECT count(*) FROM rally.notices WHERE status <> 'sent'").fetchone()[0] == 0,
        message="notices sent")
    assert [rcpt for _, rcpt, _ in sink.received()] == [[EMAIL]]
    assert dbconn.execute("SELECT count(*) FROM rally.password_resets").fetchone()[0] == 1


def test_reset_requests_are_throttled_alike_for_known_and_unknown_addresses(site, dbconn):
    owner(site)
    for address in (EMAIL, "nobody@acme.example"):
        for _ in range(3):
            assert ask_reset(site, address).status == 303
        r = ask_reset(site, address)
        assert r.status == 429 and "Too many requests" in r.text
    assert dbconn.execute("SELECT count(*) FROM rally.password_resets").fetchone()[0] == 3
    # An hour later it may ask again.
    dbconn.execute("UPDATE rally.login_failures SET at = at - interval '61 minutes'")
    assert ask_reset(site, EMAIL).status == 303


def test_reset_without_public_url_is_refused_and_the_operator_told(web_site, dbconn):
    c = web_site.client()
    c.signup()
    r = c.get("/reset")
    assert r.status == 503 and "not set up" in r.text
    c = web_site.client()
    c.get("/signin")
    r = c.post("/reset", {"email": EMAIL}, headers={"Host": "evil.example"})
    assert r.status == 503 and "not set up" in r.text
    assert "web.public_url is not set" in web_site.logs()
    assert dbconn.execute("SELECT count(*) FROM rally.password_resets").fetchone()[0] == 0
    assert dbconn.execute("SELECT count(*) FROM rally.notices").fetchone()[0] == 0


@pytest.mark.parametrize("path", ["/reset/short", "/reset/" + "A" * 43, "/reset/" + "!" * 43,
                                  "/invite/" + "A" * 44, "/invite/" + "B" * 43])
def test_a_malformed_or_unknown_link_is_a_404(site, path):
    c = site.client()
    assert c.get(path).status == 404
    c.get("/signin")
    assert c.post(path, {"password": NEW_PASSWORD, "again": NEW_PASSWORD,
                         "name": "X"}).status == 404


# --- invitations -------------------------------------------------------------

def invite(client, email, role="member"):
    client.get("/team")
    return client.post("/team/invite", {"email": email, "role": role})


def test_an_invited_member_joins_signs_in_and_sees_the_workspace(site, sink, rallyd, dbconn):
    ann = owner(site)
    r = invite(ann, "bob@acme.example")
    assert r.status == 303 and r.header("location") == "/team?done=invited"
    team = ann.get("/team?done=invited")
    assert "The invitation is sent." in team.text and "bob@acme.example" in team.text
    path, token = link_in_mail(sink, "bob@acme.example")
    mail = mails_to(sink, "bob@acme.example")[0]
    assert mail["Subject"] == "You are invited to join Acme Ltd on Rally"
    assert "Ann Owner" in mail.get_content()
    stored = dbconn.execute("SELECT token_hash FROM rally.invitations").fetchone()[0]
    assert bytes(stored) == hashlib.sha256(token.encode()).digest()

    bob = site.client()
    page = bob.get(path)
    assert page.status == 200 and "Join Acme Ltd" in page.text
    assert "bob@acme.example" in page.text and "a member" in page.text
    r = bob.post(path, {"name": "", "password": PASSWORD, "again": PASSWORD})
    assert r.status == 400 and "your name" in r.text
    r = bob.post(path, {"name": "\u00e9" * 201, "password": PASSWORD, "again": PASSWORD})
    assert r.status == 400 and "200 characters" in r.text
    r = bob.post(path, {"name": "Bob Seller", "password": PASSWORD, "again": PASSWORD})
    assert r.status == 303 and r.header("location") == "/"
    home = bob.get("/")
    assert home.status == 200 and "Bob Seller" in home.text and "Acme Ltd" in home.text
    row = dbconn.execute("SELECT tenant_id, name, role, status FROM rally.users "
                         "WHERE email = 'bob@acme.example'").fetchone()
    assert row == (tenant_of(dbconn, EMAIL), "Bob Seller", "member", "active")
    # The link worked once; the invitation and its notice are gone.
    assert site.client().get(path).status == 404
    assert dbconn.execute("SELECT count(*) FROM rally.invitations").fetchone()[0] == 0
    assert dbconn.execute("SELECT count(*) FROM rally.notices WHERE to_address IS NOT NULL"
                          ).fetchone()[0] == 0
    signed_in(site, "bob@acme.example")
    assert token not in site.logs() and token not in rallyd.output()


def squat(site, dbconn, email, n=20):
    """n workspaces someone else opens under email (sign-up checks no
    address); the sign-up throttle's rows are cleared as an hour passing,
    or other client addresses, would."""
    for i in range(n):
        if i % 9 == 0:
            dbconn.execute("DELETE FROM rally.login_failures")
        site.client().signup(company=f"Squat {i}", name="Mallory", email=email,
                             password="mallory's own password")


def test_workspaces_opened_under_someone_elses_address_do_not_lock_them_out(
        site, sink, rallyd, dbconn):
    """Twenty workspaces under Bob's address, opened before Bob joins Acme:
    the sign-in lookup answers twenty accounts at most, and it found only
    those.  The invitation proved Bob's address; such accounts come first
    (migration 0064), and so does one whose reset link was used."""
    ann = owner(site)
    squat(site, dbconn, "bob@acme.example")
    invite(ann, "bob@acme.example")
    path, _ = link_in_mail(sink, "bob@acme.example")
    bob = site.client()
    bob.get(path)
    r = bob.post(path, {"name": "Bob Seller", "password": PASSWORD, "again": PASSWORD})
    assert r.status == 303
    home = signed_in(site, "bob@acme.example").get("/")
    assert "Acme Ltd" in home.text and "Bob Seller" in home.text
    # An address changed is no longer the one confirmed.
    acme = tenant_of(dbconn, EMAIL)
    confirmed = ("SELECT email_confirmed_at IS NOT NULL FROM rally.users"
                 " WHERE tenant_id = %s AND email = %s")
    assert dbconn.execute(confirmed, (acme, "bob@acme.example")).fetchone() == (True,)
    assert dbconn.execute("SELECT count(*) FROM rally.users WHERE email = 'bob@acme.example'"
                          " AND email_confirmed_at IS NOT NULL").fetchone() == (1,)
    dbconn.execute("UPDATE rally.users SET email = 'robert@acme.example'"
                   " WHERE tenant_id = %s AND email = 'bob@acme.example'", (acme,))
    assert dbconn.execute(confirmed, (acme, "robert@acme.example")).fetchone() == (False,)

    # A workspace its holder opened before the others is found by its age.
    dbconn.execute("DELETE FROM rally.login_failures")
    site.client().signup(company="Carol Co", name="Carol", email="carol@acme.example")
    squat(site, dbconn, "carol@acme.example")
    dbconn.execute("DELETE FROM rally.login_failures")
    assert "Carol Co" in signed_in(site, "carol@acme.example").get("/").text


def test_expired_and_revoked_invitations_are_refused(site, sink, rallyd, dbconn):
    ann = owner(site)
    invite(ann, "late@acme.example")
    invite(ann, "revoked@acme.example")
    late, _ = link_in_mail(sink, "late@acme.example")
    revoked, _ = link_in_mail(sink, "revoked@acme.example")
    dbconn.execute("UPDATE rally.invitations SET created_at = now() - interval '8 days',"
                   " expires_at = now() - interval '1 day' WHERE email = 'late@acme.example'")
    c = site.client()
    assert c.get(late).status == 404
    c.get("/signin")
    assert c.post(late, {"name": "Late", "password": PASSWORD, "again": PASSWORD}
                  ).status == 404
    # Revoked from the team page: the link stops working at once.
    iid = dbconn.execute("SELECT id FROM rally.invitations WHERE email = %s",
                         ("revoked@acme.example",)).fetchone()[0]
    ann.get("/team")
    r = ann.post("/team/revoke", {"invitation": str(iid)})
    assert r.status == 303 and r.header("location") == "/team?done=revoked"
    assert "revoked@acme.example" not in ann.get("/team").text
    assert c.get(revoked).status == 404
    assert dbconn.execute("SELECT count(*) FROM rally.users").fetchone()[0] == 1
    # Revoking again: nothing to revoke.
    ann.get("/team")
    assert ann.post("/team/revoke", {"invitation": str(iid)}).status == 404
    # The expired one is cleaned up by the next invitation; its address is not kept.
    invite(ann, "next@acme.example")
    assert dbconn.execute("SELECT count(*) FROM rally.invitations WHERE email = %s",
                          ("late@acme.example",)).fetchone()[0] == 0


def test_an_address_is_invited_once_and_never_when_it_has_an_account(site, dbconn):
    ann = owner(site)
    r = invite(ann, EMAIL.upper())
    assert r.status == 409 and "already has an account" in r.text
    assert invite(ann, "bob@acme.example").status == 303
    r = invite(ann, "Bob@Acme.example")
    assert r.status == 409 and "pending already" in r.text
    r = invite(ann, "not an address")
    assert r.status == 400 and "Enter the address" in r.text
    r = invite(ann, "eve@acme.example", role="owner")
    assert r.status == 400
    assert invite(ann, "eve\x0b@acme.example").status == 400
    assert invite(ann, "eve@acme.example" + "x" * 320).status == 400
    assert invite(ann, "eve\u00a0x@acme.example").status in (303, 400)   # never a 500
    assert dbconn.execute("SELECT count(*) FROM rally.invitations WHERE email NOT LIKE "
                          "'eve%%'").fetchone()[0] == 1


def test_members_have_no_team_page_and_admins_cannot_invite_admins(site, dbconn):
    owner(site)
    t = tenant_of(dbconn, EMAIL)
    add_member(dbconn, t, "bob@acme.example")
    add_member(dbconn, t, "cat@acme.example", role="admin")
    bob = signed_in(site, "bob@acme.example")
    assert "/team" not in bob.get("/").text
    assert bob.get("/team").status == 404
    for path, fields in (("/team/invite", {"email": "x@acme.example", "role": "member"}),
                         ("/team/revoke", {"invitation": "00000000-0000-4000-8000-000000000000"}),
                         ("/team/role", {"user": "00000000-0000-4000-8000-000000000000",
                                         "role": "owner"})):
        assert bob.post(path, fields).status == 404
    cat = signed_in(site, "cat@acme.example")
    page = cat.get("/team")
    assert page.status == 200 and "bob@acme.example" in page.text
    assert 'value="admin"' not in page.text.split("Invite someone")[1]
    r = cat.post("/team/invite", {"email": "dan@acme.example", "role": "admin"})
    assert r.status == 403 and "Only owners may invite admins" in r.text
    assert invite(cat, "dan@acme.example").status == 303
    bob_id = dbconn.execute("SELECT id FROM rally.users WHERE email = 'bob@acme.example'"
                            ).fetchone()[0]
    cat.get("/team")
    assert cat.post("/team/role", {"user": str(bob_id), "role": "admin"}).status == 403
    assert cat.get(f"/team/remove?user={bob_id}").status == 403
    assert dbconn.execute("SELECT role FROM rally.invitations").fetchall() == [("member",)]
    assert dbconn.execute("SELECT role FROM rally.users WHERE id = %s",
                          (bob_id,)).fetchone()[0] == "member"


# --- the team ----------------------------------------------------------------

def role_of(dbconn, email):
    return dbconn.execute("SELECT role FROM rally.users WHERE email = %s",
                          (email,)).fetchone()[0]


def set_role(client, user_id, role):
    client.get("/team")
    return client.post("/team/role", {"user": str(user_id), "role": role})


def test_the_team_page_lists_members_with_role_and_last_sign_in(site, dbconn):
    ann = owner(site)
    t = tenant_of(dbconn, EMAIL)
    add_member(dbconn, t, "bob@acme.example", name="Bob <b>Seller</b>")
    page = ann.get("/team")
    assert page.status == 200
    assert "<th scope=\"col\">Last sign-in</th>" in page.text
    assert "Bob &lt;b&gt;Seller&lt;/b&gt;" in page.text and "<b>Seller" not in page.text
    assert "Never" in page.text and "Owner" in page.text and "Member" in page.text
    assert 'aria-current="page"' in page.text


def test_the_team_page_shows_a_hundred_members_at_a_time(site, dbconn):
    ann = owner(site)
    t = tenant_of(dbconn, EMAIL)
    dbconn.execute("INSERT INTO rally.users (tenant_id, email, name) SELECT %s,"
                   " format('m%%s@acme.example', lpad(i::text, 3, '0')), 'M' || i"
                   " FROM generate_series(1, 120) i", (t,))
    first = ann.get("/team")
    assert first.text.count("<tr><th scope=\"row\">") == 100
    m = re.search(r'href="(/team\?after=[^"]+)">More members', first.text)
    assert m and "m099%40acme.example" in m.group(1)
    rest = ann.get(m.group(1).replace("&amp;", "&"))
    assert rest.text.count("<tr><th scope=\"row\">") == 21      # m100 to m120
    assert "m100@acme.example" in rest.text and "m099@acme.example" not in rest.text
    assert "More members" not in rest.text


def test_owners_change_roles_but_never_demote_the_last_owner(site, dbconn):
    ann = owner(site)
    t = tenant_of(dbconn, EMAIL)
    ann_id = dbconn.execute("SELECT id FROM rally.users WHERE email = %s", (EMAIL,)).fetchone()[0]
    bob_id = add_member(dbconn, t, "bob@acme.example")
    r = set_role(ann, bob_id, "admin")
    assert r.status == 303 and r.header("location") == "/team?done=role"
    assert role_of(dbconn, "bob@acme.example") == "admin"
    r = set_role(ann, ann_id, "member")
    assert r.status == 409 and "always keeps an owner" in r.text
    assert role_of(dbconn, EMAIL) == "owner"
    assert set_role(ann, bob_id, "superuser").status == 400
    # With a second owner, the first may step down; then that one is the last.
    assert set_role(ann, bob_id, "owner").status == 303
    assert set_role(ann, ann_id, "admin").status == 303
    assert role_of(dbconn, EMAIL) == "admin"
    bob = signed_in(site, "bob@acme.example")
    r = set_role(bob, bob_id, "member")
    assert r.status == 409
    assert role_of(dbconn, "bob@acme.example") == "owner"
    # Ann, an admin now, may no longer change roles.
    assert set_role(ann, bob_id, "member").status == 403


def test_removing_a_member_queues_their_deletion_and_ends_their_sessions(site, dbconn):
    ann = owner(site)
    t = tenant_of(dbconn, EMAIL)
    bob_id = add_member(dbconn, t, "bob@acme.example", name="Bob")
    bob = signed_in(site, "bob@acme.example")
    assert user_sessions(dbconn, "bob@acme.example") == 1
    confirm = ann.get(f"/team/remove?user={bob_id}")
    assert confirm.status == 200 and "Remove Bob (bob@acme.example)" in confirm.text
    assert dbconn.execute("SELECT status FROM rally.users WHERE id = %s",
                          (bob_id,)).fetchone()[0] == "active"     # GET changed nothing
    r = ann.post("/team/remove", {"user": str(bob_id)})
    assert r.status == 303 and r.header("location") == "/team?done=removed"
    status, purge_after = dbconn.execute(
        "SELECT status, deletion_purge_after <= now() FROM rally.users WHERE id = %s",
        (bob_id,)).fetchone()
    assert status == "deletion_pending" and purge_after     # no grace period
    assert user_sessions(dbconn, "bob@acme.example") == 0
    assert bob.get("/").status == 303
    ledger = dbconn.execute("SELECT l.kind FROM rally.deletion_ledger l WHERE l.tenant_id = %s"
                            " AND rally.ledger_matches(l.subject_hash, l.hash_key_id, 'user', %s)",
                            (t, bob_id)).fetchall()
    assert ledger == [("account_deletion",)]
    assert dbconn.execute("SELECT count(*) FROM rally.jobs WHERE kind = 'accountpurge'"
                          " AND tenant_id = %s", (t,)).fetchone()[0] == 1
    # The tenant lives on with its owner, who is the actor in the audit log.
    assert dbconn.execute("SELECT status FROM rally.tenants").fetchone()[0] == "active"
    assert dbconn.execute("SELECT count(*) FROM rally.audit_log WHERE action = "
                          "'team.member_removed' AND actor_hash IS NOT NULL").fetchone()[0] == 1
    # Bob is told he was removed: he asked for nothing and has nothing to cancel.
    subject, body = dbconn.execute("SELECT subject, body_text FROM rally.notices"
                                   " WHERE user_id = %s", (bob_id,)).fetchone()
    assert subject == "You were removed from your Rally workspace"
    assert "An owner of your Rally workspace removed you" in body
    assert "request" not in body and "cancel" not in body
    c = site.client()
    c.get("/signin")
    assert c.post("/signin", {"email": "bob@acme.example", "password": PASSWORD}).status == 403
    page = ann.get("/team?done=removed")
    assert "The member is removed" in page.text and "Account being deleted" in page.text
    # Removing again, or oneself, changes nothing.
    assert ann.post("/team/remove", {"user": str(bob_id)}).status == 404
    ann_id = dbconn.execute("SELECT id FROM rally.users WHERE email = %s", (EMAIL,)).fetchone()[0]
    assert ann.get(f"/team/remove?user={ann_id}").status == 409
    assert ann.post("/team/remove", {"user": str(ann_id)}).status == 409
    assert role_of(dbconn, EMAIL) == "owner"


def test_another_workspaces_ids_are_404_and_change_nothing(site, dbconn):
    ann = owner(site)
    a = tenant_of(dbconn, EMAIL)
    bob_id = add_member(dbconn, a, "bob@acme.example")
    assert invite(ann, "new@acme.example").status == 303
    inv_id = dbconn.execute("SELECT id FROM rally.invitations").fetchone()[0]
    zed = owner(site, company="Beta", email="zed@beta.example", name="Zed")
    attempts = [
        ("GET", f"/team/remove?user={bob_id}", None),
        ("POST", "/team/role", {"user": str(bob_id), "role": "owner"}),
        ("POST", "/team/role", {"user": str(bob_id), "role": "member"}),
        ("POST", "/team/remove", {"user": str(bob_id)}),
        ("POST", "/team/revoke", {"invitation": str(inv_id)}),
        ("POST", "/team/remove", {"user": "not-a-uuid"}),
        ("POST", "/team/revoke", {"invitation": "'; DROP TABLE rally.users; --"}),
        ("GET", "/team/remove?user=" + "f" * 36, None),
    ]
    for method, path, fields in attempts:
        zed.get("/team")
        r = zed.get(path) if method == "GET" else zed.post(path, fields)
        assert r.status == 404, (method, path, r)
    assert dbconn.execute("SELECT role, status FROM rally.users WHERE id = %s",
                          (bob_id,)).fetchone() == ("member", "active")
    assert dbconn.execute("SELECT count(*) FROM rally.invitations WHERE id = %s",
                          (inv_id,)).fetchone()[0] == 1
    assert dbconn.execute("SELECT count(*) FROM rally.deletion_ledger").fetchone()[0] == 0
    # Zed's team page shows only Beta.
    page = zed.get("/team")
    assert "bob@acme.example" not in page.text and "new@acme.example" not in page.text


def test_team_actions_need_the_csrf_token(site, dbconn):
    ann = owner(site)
    bob_id = add_member(dbconn, tenant_of(dbconn, EMAIL), "bob@acme.example")
    ann.get("/team")
    assert ann.post("/team/remove", {"user": str(bob_id)}, csrf=False).status == 403
    assert ann.post("/team/invite", {"email": "x@acme.example", "role": "member"},
                    csrf="A" * 43).status == 403
    assert dbconn.execute("SELECT status FROM rally.users WHERE id = %s",
                          (bob_id,)).fetchone()[0] == "active"
    assert dbconn.execute("SELECT count(*) FROM rally.invitations").fetchone()[0] == 0


def test_a_removed_members_data_is_purged_by_rallyd_and_their_invitations_stay(
        site, rallyd, dbconn):
    ann = owner(site)
    t = tenant_of(dbconn, EMAIL)
    cat_id = add_member(dbconn, t, "cat@acme.example", role="admin", name="Cat")
    cat = signed_in(site, "cat@acme.example")
    assert invite(cat, "dan@acme.example").status == 303
    ask_reset(site, "cat@acme.example")
    assert dbconn.execute("SELECT count(*) FROM rally.password_resets WHERE user_id = %s",
                          (cat_id,)).fetchone()[0] == 1
    ann.get(f"/team/remove?user={cat_id}")
    assert ann.post("/team/remove", {"user": str(cat_id)}).status == 303
    # No grace period: rallyd purges at once.
    wait_until(lambda: dbconn.execute("SELECT count(*) FROM rally.users WHERE id = %s",
                                      (cat_id,)).fetchone()[0] == 0,
               timeout=60, message="member purged")
    wait_until(lambda: dbconn.execute(
        "SELECT completed_at IS NOT NULL FROM rally.deletion_ledger"
        " WHERE kind = 'account_deletion'").fetchone()[0], message="ledger completed")
    assert dbconn.execute("SELECT count(*) FROM rally.password_resets").fetchone()[0] == 0
    assert dbconn.execute("SELECT count(*) FROM rally.sessions WHERE user_id = %s",
                          (cat_id,)).fetchone()[0] == 0
    # The workspace keeps the invitation Cat sent, now without a sender.
    assert dbconn.execute("SELECT email, invited_by FROM rally.invitations").fetchall() == [
        ("dan@acme.example", None)]
    assert "a former member" in ann.get("/team").text
