# SPDX-License-Identifier: ISC
"""rally.cgi behind pgbouncer in transaction pooling mode (docs/cgi.md
section 8), the way operators run it at scale: every request's connection
goes through a real pgbouncer whose pool holds one server connection, so
the requests of two tenants' users, and of signed-out visitors, take turns
on the same PostgreSQL backend.  Nothing a request sets may outlive its
transaction there: the tenant and user (rally.tenant_id, rally.user_id),
the user's TimeZone, an open transaction after an error."""

import concurrent.futures
import re

import pytest

from rallytest.site import Site

ANN, BOB = "ann@acme.example", "bob@globex.example"


@pytest.fixture
def bouncer(pgbouncer):
    return pgbouncer


@pytest.fixture
def site(tmp_path, bouncer, db, login_roles):
    s = Site(str(tmp_path), bouncer.conninfo(db, login_roles["web"]))
    yield s
    s.close()


@pytest.fixture
def tenants(site, dbconn):
    """Two workspaces, each with a signed-in owner in a time zone of its own."""
    ann, bob = site.client(), site.client()
    ann.signup(company="Acme Ltd", name="Ann Owner", email=ANN)
    bob.signup(company="Globex Corp", name="Bob Owner", email=BOB)
    dbconn.execute("UPDATE rally.users SET time_zone = 'Pacific/Auckland' WHERE email = %s",
                   (ANN,))
    dbconn.execute("UPDATE rally.users SET time_zone = 'America/Los_Angeles' WHERE email = %s",
                   (BOB,))
    return ann, bob


def probe(bouncer, db, role):
    """What a fresh client of the web role's pool finds on the shared server
    connection, outside any request: no tenant, no user, the server's own
    TimeZone, no row visible under row-level security."""
    with bouncer.connect(db, role) as c:
        return c.execute(
            "SELECT pg_backend_pid(), current_setting('rally.tenant_id', true),"
            " current_setting('rally.user_id', true), current_setting('TimeZone'),"
            " (SELECT count(*) FROM rally.users), (SELECT count(*) FROM rally.tenants),"
            " pg_current_xact_id_if_assigned() IS NULL").fetchone()


def web_backends(dbconn, role):
    return dbconn.execute("SELECT pid FROM pg_stat_activity WHERE usename = %s",
                          (role,)).fetchall()


def assert_dashboard_of(r, name, company, other_name, other_company):
    assert r.status == 200, r
    assert f"Welcome, {name}." in r.text and company in r.text, r.text
    assert other_name not in r.text and other_company not in r.text, r.text


def test_two_tenants_and_visitors_take_turns_on_one_server_connection(
        site, bouncer, db, login_roles, dbconn, tenants):
    ann, bob = tenants
    role = login_roles["web"]
    server_tz = dbconn.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    visitor = site.client()
    pids = set()
    for _ in range(5):
        assert_dashboard_of(ann.get("/"), "Ann Owner", "Acme Ltd", "Bob Owner", "Globex")
        pid, tenant, user, tz, users, tenants_seen, no_xact = probe(bouncer, db, role)
        pids.add(pid)
        assert (tenant or "", user or "", tz, users, tenants_seen, no_xact) == \
            ("", "", server_tz, 0, 0, True)
        # A visitor right after Ann, on the connection her request used.
        r = visitor.get("/")
        assert r.status == 303 and r.header("location") == "/signin", r
        r = visitor.get("/signin")
        assert r.status == 200 and "Ann" not in r.text and "Acme" not in r.text
        assert_dashboard_of(bob.get("/"), "Bob Owner", "Globex Corp", "Ann Owner", "Acme")
        pids.add(probe(bouncer, db, role)[0])
    # One backend served every request and every probe.
    assert len(pids) == 1, pids
    assert len(web_backends(dbconn, role)) == 1


def test_the_users_time_zone_is_set_for_its_request_only(
        site, bouncer, db, login_roles, dbconn, tenants):
    ann, bob = tenants
    server_tz = dbconn.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    assert server_tz not in ("Pacific/Auckland", "America/Los_Angeles")
    assert ann.get("/").status == 200
    assert probe(bouncer, db, login_roles["web"])[3] == server_tz
    assert bob.get("/").status == 200
    assert probe(bouncer, db, login_roles["web"])[3] == server_tz


def test_sign_in_sign_out_and_throttling_through_pgbouncer(site, bouncer, db, login_roles,
                                                          dbconn, tenants):
    ann, bob = tenants
    c = site.client()
    c.get("/signin")
    r = c.post("/signin", {"email": ANN, "password": "wrong password!"})
    assert r.status == 403
    c.signin(ANN)
    assert_dashboard_of(c.get("/"), "Ann Owner", "Acme Ltd", "Bob Owner", "Globex")
    assert c.post("/signout").status == 303
    assert c.get("/").status == 303
    # Bob's session is untouched by Ann's sign-out on the shared connection.
    assert_dashboard_of(bob.get("/"), "Bob Owner", "Globex Corp", "Ann Owner", "Acme")
    assert dbconn.execute("SELECT count(*) FROM rally.login_failures").fetchone()[0] >= 1
    tenant, user = probe(bouncer, db, login_roles["web"])[1:3]
    assert (tenant or "", user or "") == ("", "")


def test_a_refused_request_leaves_no_transaction_behind(site, bouncer, db, login_roles,
                                                        tenants):
    ann, bob = tenants
    # A wrong CSRF token: the session was resumed (a transaction begun,
    # Ann's context set), then 403; the connection must come back clean.
    assert ann.post("/signout", csrf="A" * 43).status == 403
    row = probe(bouncer, db, login_roles["web"])
    assert (row[1] or "", row[2] or "", row[6]) == ("", "", True)
    assert_dashboard_of(bob.get("/"), "Bob Owner", "Globex Corp", "Ann Owner", "Acme")
    # A body the parser refuses, signed in.
    r = ann.request("POST", "/signout", b"csrf=%zz",
                    {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 400
    assert_dashboard_of(bob.get("/"), "Bob Owner", "Globex Corp", "Ann Owner", "Acme")


def test_concurrent_requests_of_two_tenants_queue_for_one_connection(
        site, bouncer, db, login_roles, dbconn, tenants):
    ann, bob = tenants

    def fetch(who):
        c = ann if who == "ann" else bob
        r = site.server.request("GET", "/", headers={"Cookie": c._cookie_header()})
        m = re.search(r"Welcome, ([^.<]*)\.", r.text)
        return who, r.status, m.group(1) if m else None, "Acme" in r.text, "Globex" in r.text

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(fetch, ["ann", "bob"] * 20))
    for who, status, name, acme, globex in results:
        assert status == 200
        if who == "ann":
            assert (name, acme, globex) == ("Ann Owner", True, False)
        else:
            assert (name, acme, globex) == ("Bob Owner", False, True)
    assert len(web_backends(dbconn, login_roles["web"])) == 1


def mail_thread(dbconn, email, subject, at):
    """A synced thread of one message for the user, as Gmail sync stores it
    (its summary by rally.mail_threads_refresh)."""
    tenant, user = dbconn.execute("SELECT tenant_id, id FROM rally.users WHERE email = %s",
                                  (email,)).fetchone()
    conn = dbconn.execute(
        "INSERT INTO rally.google_connections (tenant_id, user_id, google_email, google_subject,"
        " mail_enabled) VALUES (%s, %s, %s, %s, true) RETURNING id",
        (tenant, user, "g-" + email, "sub-" + email)).fetchone()[0]
    thread = dbconn.execute(
        "INSERT INTO rally.mail_threads (tenant_id, user_id, connection_id, gmail_thread_id,"
        " subject, message_count, last_message_at) VALUES (%s, %s, %s, %s, %s, 1, %s)"
        " RETURNING id", (tenant, user, conn, "t-" + email, subject, at)).fetchone()[0]
    dbconn.execute(
        "INSERT INTO rally.mail_messages (tenant_id, thread_id, user_id, connection_id, gmail_id,"
        " from_addr, subject, snippet, body_text, label_ids, internal_date) VALUES"
        " (%s, %s, %s, %s, %s, 'Zoe <zoe@client.test>', %s, 'Hello', 'Hello', '{INBOX}', %s)",
        (tenant, thread, user, conn, "m-" + email, subject, at))
    if dbconn.execute("SELECT to_regprocedure('rally.mail_threads_refresh(uuid, uuid[])')"
                      " IS NOT NULL").fetchone()[0]:
        dbconn.execute("SELECT rally.mail_threads_refresh(%s, ARRAY[%s::uuid])",
                       (tenant, thread))


def test_each_inbox_shows_its_own_mail_in_its_own_time_zone(site, bouncer, db, login_roles,
                                                             dbconn, tenants):
    ann, bob = tenants
    if ann.get("/inbox").status == 404:
        pytest.skip("no inbox page in this build yet")
    # 11:30 UTC on 10 November is already the 11th in Auckland (UTC+13),
    # still the 10th in Los Angeles (UTC-8): each page must date the
    # thread in its own user's zone, on the same server connection.
    at = "2026-11-10T11:30:00Z"
    mail_thread(dbconn, ANN, "Acme renewal plan", at)
    mail_thread(dbconn, BOB, "Globex merger plan", at)
    for _ in range(3):
        r = ann.get("/inbox")
        assert r.status == 200, r
        assert "Acme renewal plan" in r.text and "Globex merger plan" not in r.text
        assert "11 Nov 2026" in r.text and "10 Nov 2026" not in r.text, r.text
        r = bob.get("/inbox")
        assert r.status == 200, r
        assert "Globex merger plan" in r.text and "Acme renewal plan" not in r.text
        assert "10 Nov 2026" in r.text and "11 Nov 2026" not in r.text, r.text
        assert site.client().get("/inbox").status == 303
    assert len(web_backends(dbconn, login_roles["web"])) == 1


def activity(dbconn, email, title, at):
    tenant, user = dbconn.execute("SELECT tenant_id, id FROM rally.users WHERE email = %s",
                                  (email,)).fetchone()
    return str(dbconn.execute(
        "INSERT INTO rally.activities (tenant_id, owner_id, title, start_at, end_at)"
        " VALUES (%s, %s, %s, %s, %s::timestamptz + interval '30 minutes') RETURNING id",
        (tenant, user, title, at, at)).fetchone()[0])


def test_each_activity_page_in_its_own_time_zone_and_tenant(site, bouncer, db, login_roles,
                                                            dbconn, tenants):
    ann, bob = tenants
    if ann.get("/activities").status == 404:
        pytest.skip("no activities pages in this build yet")
    at = "2026-11-10T11:30:00Z"     # 00:30 on the 11th in Auckland, 03:30 on the 10th in LA
    a = activity(dbconn, ANN, "Acme kick-off", at)
    b = activity(dbconn, BOB, "Globex kick-off", at)
    for _ in range(3):
        r = ann.get(f"/activities/{a}")
        assert r.status == 200, r
        assert "Acme kick-off" in r.text and "11 Nov 2026, 00:30" in r.text, r.text
        assert ann.get(f"/activities/{b}").status == 404
        r = bob.get(f"/activities/{b}")
        assert r.status == 200, r
        assert "Globex kick-off" in r.text and "10 Nov 2026, 03:30" in r.text, r.text
        assert bob.get(f"/activities/{a}").status == 404
        r = site.client().get(f"/activities/{a}")
        assert r.status == 303 and "Acme" not in r.text
    assert len(web_backends(dbconn, login_roles["web"])) == 1
