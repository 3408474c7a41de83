# SPDX-License-Identifier: ISC
"""Sign-up, sign-in, sign-out and sessions of rally.cgi, over HTTP through
lighttpd against the real schema as a rally_web login: cookies, CSRF,
throttling, expiry, rotation and the headers every page carries."""

import base64
import hashlib
import re

import pytest

from rallytest.site import PASSWORD

EMAIL = "ann@acme.example"


def session_cookie(client):
    return client.cookies.get("rally")


def sessions(dbconn):
    return dbconn.execute("SELECT id_hash, user_id, expires_at - created_at AS life "
                          "FROM rally.sessions").fetchall()


def test_signup_makes_a_workspace_and_signs_its_owner_in(web_site, dbconn):
    c = web_site.client()
    r = c.signup()
    assert r.header("location") == "/?done=welcome"
    t = dbconn.execute("SELECT t.name, t.company_size, u.email, u.name, u.role, u.password_hash "
                       "FROM rally.tenants t JOIN rally.users u USING (tenant_id)").fetchall()
    assert len(t) == 1
    name, size, email, uname, role, phc = t[0]
    assert (name, size, email, uname, role) == ("Acme Ltd", "11-50", EMAIL, "Ann Owner", "owner")
    assert phc.startswith("$argon2id$") and PASSWORD not in phc
    page = c.get("/?done=welcome")
    assert page.status == 200
    assert "Your workspace is ready." in page.text and "Acme Ltd" in page.text


def test_session_cookie_is_random_httponly_lax_and_stored_hashed(web_site, dbconn):
    c = web_site.client()
    r = c.signup()
    cookies = [v for v in r.header_all("set-cookie") if v.startswith("rally=")]
    assert len(cookies) == 1
    attrs = [a.strip().lower() for a in cookies[0].split(";")]
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    assert "secure" not in attrs            # plain HTTP in this test
    value = session_cookie(c)
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert len(raw) == 32
    rows = sessions(dbconn)
    assert [bytes(h) for h, _, _ in rows] == [hashlib.sha256(raw).digest()]
    assert rows[0][2].days == 14


def test_secure_cookie_with_host_prefix_when_served_over_https(web_site, pg, db, login_roles,
                                                               dbconn):
    web_site.configure(pg.conninfo(db, login_roles["web"]),
                       web={"public_url": "https://crm.example.com"})
    c = web_site.client()
    c.get("/signup")
    assert "__Host-rally-pre" in c.cookies
    r = c.post("/signup", {"company": "Acme", "name": "Ann", "email": EMAIL,
                           "password": PASSWORD})
    assert r.status == 303, r
    cookie = [v for v in r.header_all("set-cookie") if v.startswith("__Host-rally=")][0]
    assert "; Secure" in cookie
    assert c.get("/").status == 200


def test_signin_signout_and_wrong_password(web_site, dbconn):
    owner = web_site.client()
    owner.signup()
    c = web_site.client()
    assert c.get("/").status == 303            # signed out: to /signin
    c.get("/signin")
    r = c.post("/signin", {"email": EMAIL, "password": "wrong password!"})
    assert r.status == 403 and "do not match" in r.text
    r = c.post("/signin", {"email": "nobody@acme.example", "password": PASSWORD})
    assert r.status == 403 and "do not match" in r.text     # the same answer
    c.signin(EMAIL.upper())                     # addresses are case-blind
    assert dbconn.execute("SELECT last_login_at IS NOT NULL FROM rally.users").fetchone()[0]
    assert c.get("/").status == 200
    before = len(sessions(dbconn))
    r = c.post("/signout")
    assert r.status == 303 and r.header("location") == "/signin?done=signedout"
    assert len(sessions(dbconn)) == before - 1
    assert c.get("/").status == 303
    assert "You are signed out." in c.get("/signin?done=signedout").text


def test_signin_rotates_the_session(web_site, dbconn):
    c = web_site.client()
    c.signup()
    first = session_cookie(c)
    c.signin(EMAIL)
    second = session_cookie(c)
    assert first != second
    # The first session is gone from the database, not just from the jar.
    stale = web_site.client()
    stale.cookies["rally"] = first
    assert stale.get("/").status == 303
    assert len(sessions(dbconn)) == 1


def test_throttling_per_account(web_site, dbconn):
    web_site.client().signup()
    c = web_site.client()
    c.get("/signin")
    for _ in range(5):
        assert c.post("/signin", {"email": EMAIL, "password": "nope nope nope"}).status == 403
    r = c.post("/signin", {"email": EMAIL, "password": PASSWORD})
    assert r.status == 429 and "Too many attempts" in r.text
    # An unknown account is throttled alike: nothing tells them apart.
    for _ in range(5):
        c.post("/signin", {"email": "ghost@acme.example", "password": "nope nope nope"})
    assert c.post("/signin", {"email": "ghost@acme.example", "password": "x"}).status == 429
    # The table holds hashes, never an address.
    rows = dbconn.execute("SELECT key_hash FROM rally.login_failures").fetchall()
    assert rows and all(len(bytes(k)) == 32 for k, in rows)
    # Fifteen minutes later the account may try again.
    dbconn.execute("UPDATE rally.login_failures SET at = at - interval '16 minutes'")
    c.signin(EMAIL)


def test_throttling_per_address(web_site, dbconn):
    c = web_site.client()
    c.get("/signin")
    for i in range(20):
        c.post("/signin", {"email": f"user{i}@acme.example", "password": "guess guess"})
    r = c.post("/signin", {"email": "fresh@acme.example", "password": "guess guess"})
    assert r.status == 429


def test_csrf_missing_or_wrong_is_refused(web_site, dbconn):
    c = web_site.client()
    c.signup()
    assert c.post("/signout", csrf=False).status == 403
    assert c.post("/signout", csrf="A" * 43).status == 403
    # A signed-out form's token does not work for a session, nor another
    # session's.
    other = web_site.client()
    other.signup(company="Other", email="bob@other.example")
    assert c.post("/signout", csrf=other.csrf).status == 403
    assert len(sessions(dbconn)) == 2
    # Sign-in itself needs the pre-session token.
    anon = web_site.client()
    r = anon.post("/signin", {"email": EMAIL, "password": PASSWORD}, csrf=False)
    assert r.status == 403
    assert c.post("/signout").status == 303


def test_idle_and_absolute_expiry(web_site, dbconn):
    c = web_site.client()
    c.signup()
    dbconn.execute("UPDATE rally.sessions SET last_seen_at = now() - interval '13 hours'")
    assert c.get("/").status == 303
    assert sessions(dbconn) == []               # an idle session is deleted
    c.signin(EMAIL)
    dbconn.execute("UPDATE rally.sessions SET created_at = now() - interval '15 days', "
                   "expires_at = now() - interval '1 day'")
    assert c.get("/").status == 303


def test_a_request_never_waits_for_another_writing_its_session(web_site, pg, db, login_roles,
                                                              dbconn):
    """last_seen_at is due, and another request of the session holds its row:
    this one is served without waiting for it, and the row is written by
    whichever request got it."""
    c = web_site.client()
    c.signup()
    dbconn.execute("UPDATE rally.sessions SET last_seen_at = now() - interval '2 minutes'")
    with pg.connect(db) as other:
        other.autocommit = False
        other.execute("SELECT 1 FROM rally.sessions FOR UPDATE")
        # Waiting would fail the request (a 5xx) instead of hanging the test.
        role = login_roles["web"]
        dbconn.execute(f"ALTER ROLE {role} SET lock_timeout = '2s'")
        try:
            assert c.get("/").status == 200
        finally:
            dbconn.execute(f"ALTER ROLE {role} RESET lock_timeout")
        other.rollback()
    stale = dbconn.execute("SELECT last_seen_at < now() - interval '1 minute'"
                           " FROM rally.sessions").fetchone()[0]
    assert stale                                # skipped, not waited for
    assert c.get("/").status == 200
    assert not dbconn.execute("SELECT last_seen_at < now() - interval '1 minute'"
                              " FROM rally.sessions").fetchone()[0]


def test_a_deleted_or_blocked_account_loses_its_session(web_site, dbconn):
    c = web_site.client()
    c.signup()
    dbconn.execute("UPDATE rally.users SET status = 'deletion_pending', "
                   "deletion_requested_at = now()")
    assert c.get("/").status == 303


def test_stronger_parameters_rehash_at_signin(web_site, pg, db, login_roles, dbconn):
    web_site.client().signup()
    web_site.configure(pg.conninfo(db, login_roles["web"]),
                       passwords={"argon2_memory_kib": "20480", "argon2_iterations": "2"})
    web_site.client().signin(EMAIL)
    phc = dbconn.execute("SELECT password_hash FROM rally.users").fetchone()[0]
    assert "m=20480" in phc


@pytest.mark.parametrize("fields, why", [
    ({"company": ""}, "company"),
    ({"size": "2-3"}, "size"),
    ({"name": ""}, "your name"),
    ({"email": "not-an-address"}, "email address"),
    ({"password": "short"}, "10 characters"),
    ({"company": "x" * 801}, "company"),
])
def test_signup_refuses_bad_input_with_words(web_site, dbconn, fields, why):
    c = web_site.client()
    c.get("/signup")
    form = {"company": "Acme", "size": "", "name": "Ann", "email": EMAIL, "password": PASSWORD}
    form.update(fields)
    r = c.post("/signup", form)
    assert r.status == 400 and why in r.text.lower(), r
    assert dbconn.execute("SELECT count(*) FROM rally.tenants").fetchone()[0] == 0


def test_signup_is_throttled_per_address(web_site, dbconn):
    c = web_site.client()
    for i in range(10):
        c.signup(company=f"Co {i}", email=f"o{i}@x.example")
        c.post("/signout")
    c.get("/signup")
    r = c.post("/signup", {"company": "Co 11", "name": "N", "email": "o11@x.example",
                           "password": PASSWORD})
    assert r.status == 429 and "Too many sign-ups" in r.text


def test_pages_carry_the_security_headers(web_site):
    c = web_site.client()
    for path in ("/signin", "/signup", "/nope-not-here"):
        r = c.get(path)
        if r.status == 404:
            continue
        csp = r.header("content-security-policy")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp          # no script, from anywhere
        assert r.header("x-frame-options") == "DENY"
        assert r.header("referrer-policy") == "same-origin"
        assert r.header("cache-control") == "no-store"
        assert r.header("content-type") == "text/html; charset=utf-8"
    css = c.get("/static/rally.css")
    assert css.status == 200 and css.header("content-type").startswith("text/css")
    assert "max-age" in css.header("cache-control")


def test_bad_input_is_a_4xx_never_a_crash(web_site):
    c = web_site.client()
    c.get("/signin")
    assert c.post("/signin", {"email": "a@b", "password": "x" * 2000}).status in (403, 400)
    r = c.request("POST", "/signin", b"\xff\xfe=%%%", {"Content-Type":
                                                       "application/x-www-form-urlencoded"})
    assert r.status == 400
    r = c.request("POST", "/signin", b"{}", {"Content-Type": "application/json"})
    assert r.status == 415
    assert c.get("/signin?x=%FF").status == 400      # not UTF-8
    # A cookie header of another site's junk does not lock anyone out.
    r = c.get("/signin", headers={"Cookie": "rally=" + "!" * 300 + "; other=\x01"})
    assert r.status == 200
