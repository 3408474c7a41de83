# SPDX-License-Identifier: ISC
"""The dashboard's lists (sql/functions/web-dashboard.sql) at 10,000 and
100,000 activities and messages: the plans PostgreSQL keeps for them are
range scans of the indexes meant for them, which read a few pages whatever
the tenant's size, and the rows are those the statements that rally.cgi
sent before the functions chose, in the same order.  Plans, rows and
buffers, never time: the machine is shared."""

import re

import pytest

# What cgi/page-dashboard.c sent until the lists became functions: the
# reference for the rows and their order.
OLD_UPCOMING = """
SELECT id::text, title, kind, day, at, owner_name, mine FROM (
 (SELECT a.id, a.title, a.kind, a.start_at AS sort_at,
   CASE a.start_at::date - current_date WHEN 0 THEN 'Today'
    WHEN 1 THEN 'Tomorrow' ELSE to_char(a.start_at, 'Dy DD Mon') END
   || ', ' || to_char(a.start_at, 'HH24:MI') AS day,
   to_char(a.start_at, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM') AS at, a.owner_id
  FROM rally.activities a
  WHERE a.tenant_id = rally.current_tenant()
   AND a.start_at >= now() - interval '1 day' AND a.start_at < now() + interval '7 days'
   AND coalesce(a.end_at, a.start_at) >= now()
   AND a.deleted_at IS NULL AND a.event_status <> 'cancelled'
   AND (a.owner_id = rally.current_user_id() OR a.visibility = 'shared')
  ORDER BY a.start_at LIMIT 10)
 UNION ALL
 (SELECT a.id, a.title, a.kind, a.start_date::timestamptz,
   CASE a.start_date - current_date WHEN 0 THEN 'Today'
    WHEN 1 THEN 'Tomorrow' ELSE to_char(a.start_date, 'Dy DD Mon') END || ', all day',
   to_char(a.start_date, 'YYYY-MM-DD'), a.owner_id
  FROM rally.activities a
  WHERE a.tenant_id = rally.current_tenant()
   AND a.start_date >= current_date AND a.start_date < current_date + 7
   AND a.deleted_at IS NULL AND a.event_status <> 'cancelled'
   AND (a.owner_id = rally.current_user_id() OR a.visibility = 'shared')
  ORDER BY a.start_date LIMIT 10)
) x
CROSS JOIN LATERAL (SELECT x.owner_id = rally.current_user_id() AS mine,
  (SELECT coalesce(nullif(u.name, ''), u.email) FROM rally.users u
   WHERE u.tenant_id = rally.current_tenant() AND u.id = x.owner_id) AS owner_name) o
ORDER BY sort_at, id LIMIT 10"""

NOT_ONLY_TRASH = """EXISTS (SELECT 1 FROM rally.mail_messages m
 WHERE m.tenant_id = mail_threads.tenant_id AND m.thread_id = mail_threads.id
  AND NOT (m.label_ids && ARRAY['TRASH', 'SPAM']))"""

OLD_THREADS = f"""
SELECT t.id::text, coalesce(nullif(t.subject, ''), '(no subject)'),
 coalesce(t.snippet, ''), to_char(t.last_message_at,
  CASE WHEN t.last_message_at::date = current_date THEN 'HH24:MI' ELSE 'DD Mon' END),
 to_char(t.last_message_at, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'),
 EXISTS (SELECT 1 FROM rally.mail_messages m
  WHERE m.tenant_id = t.tenant_id AND m.thread_id = t.id AND 'UNREAD' = ANY (m.label_ids)),
 t.user_id = rally.current_user_id(),
 coalesce((SELECT coalesce(nullif(u.name, ''), u.email) FROM rally.users u
  WHERE u.tenant_id = t.tenant_id AND u.id = t.user_id), '')
FROM (
 (SELECT tenant_id, id, user_id, subject, snippet, last_message_at FROM rally.mail_threads
  WHERE tenant_id = rally.current_tenant() AND user_id = rally.current_user_id()
   AND last_message_at IS NOT NULL AND {NOT_ONLY_TRASH}
  ORDER BY last_message_at DESC LIMIT 10)
 UNION ALL
 (SELECT tenant_id, id, user_id, subject, snippet, last_message_at FROM rally.mail_threads
  WHERE tenant_id = rally.current_tenant() AND visibility = 'shared'
   AND user_id <> rally.current_user_id() AND last_message_at IS NOT NULL
   AND {NOT_ONLY_TRASH}
  ORDER BY last_message_at DESC LIMIT 10)
) t
ORDER BY t.last_message_at DESC, t.id LIMIT 10"""

HASH = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


def user(conn, tenant, email, name, role):
    return conn.execute(
        "INSERT INTO rally.users (tenant_id, email, name, password_hash, role)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id", (tenant, email, name, HASH, role)
    ).fetchone()[0]


def seed(conn, n):
    """A tenant of two users, Ann and Bob, with n activities (timed and
    all-day, a year either side of now, private and shared, some cancelled
    or deleted, several at the same minute) and n messages in threads of
    two (Ann's and Bob's, a fifth shared, some in the trash only), and a
    second tenant with the same shared rows, which nobody here may see."""
    ids = {}
    for key, name in (("a", "Acme"), ("b", "Beta")):
        tenant = conn.execute("INSERT INTO rally.tenants (name) VALUES (%s) RETURNING tenant_id",
                              (name,)).fetchone()[0]
        ann = user(conn, tenant, f"ann@{key}.example", "Ann", "owner")
        bob = user(conn, tenant, f"bob@{key}.example", "", "member")
        ids[key] = (tenant, ann, bob)
        for who in (ann, bob):
            gc = conn.execute(
                "INSERT INTO rally.google_connections (tenant_id, user_id, google_email,"
                " google_subject, scopes, calendar_enabled, mail_enabled) VALUES (%s, %s,"
                " %s || '@gmail.test', %s, '{calendar,gmail.modify}', true, true) RETURNING id",
                (tenant, who, str(who), str(who))).fetchone()[0]
            per = n // 2 if key == "a" else n // 20
            # Timed rows every 105 minutes over two years (pairs share a
            # minute), one in eight all-day.
            conn.execute(
                "INSERT INTO rally.activities (tenant_id, owner_id, kind, title, start_at,"
                " end_at, start_date, end_date, visibility, event_status, deleted_at)"
                " SELECT %(t)s, %(o)s, (ARRAY['meeting', 'call', 'task'])[1 + g %% 3],"
                " 'Activity ' || g, CASE WHEN g %% 8 <> 0 THEN s END,"
                " CASE WHEN g %% 8 <> 0 THEN s + interval '30 minutes' END,"
                " CASE WHEN g %% 8 = 0 THEN s::date END,"
                " CASE WHEN g %% 8 = 0 THEN s::date + 1 END,"
                " CASE WHEN g %% 5 = 0 THEN 'shared' ELSE 'private' END,"
                " CASE WHEN g %% 17 = 0 THEN 'cancelled' ELSE 'confirmed' END,"
                " CASE WHEN g %% 19 = 0 THEN now() END"
                " FROM generate_series(1, %(n)s) g,"
                " LATERAL (SELECT date_trunc('minute', now())"
                "  + ((g / 2) - %(n)s / 4) * interval '105 minutes' AS s) x",
                {"t": tenant, "o": who, "n": per})
            conn.execute(
                "INSERT INTO rally.mail_threads (tenant_id, user_id, connection_id,"
                " gmail_thread_id, subject, snippet, message_count, last_message_at, visibility)"
                " SELECT %(t)s, %(o)s, %(c)s, 't' || g, 'Thread ' || g, 'About ' || g, 2,"
                " date_trunc('minute', now()) - (g / 2) * interval '3 minutes',"
                " CASE WHEN g %% 5 = 0 THEN 'shared' ELSE 'private' END"
                " FROM generate_series(1, %(n)s / 2) g", {"t": tenant, "o": who, "c": gc,
                                                          "n": per})
            conn.execute(
                "INSERT INTO rally.mail_messages (tenant_id, thread_id, user_id, connection_id,"
                " gmail_id, subject, from_addr, label_ids, internal_date)"
                " SELECT t.tenant_id, t.id, t.user_id, t.connection_id,"
                " t.gmail_thread_id || '-' || k, t.subject, 'Zed <zed@client.example>',"
                " CASE WHEN substr(t.gmail_thread_id, 2)::int %% 7 = 0 THEN ARRAY['TRASH']"
                "  WHEN k = 2 AND substr(t.gmail_thread_id, 2)::int %% 3 = 0"
                "  THEN ARRAY['INBOX', 'UNREAD'] ELSE ARRAY['INBOX'] END,"
                " t.last_message_at - (2 - k) * interval '1 minute'"
                " FROM rally.mail_threads t CROSS JOIN generate_series(1, 2) k"
                " WHERE t.tenant_id = %s AND t.user_id = %s", (tenant, who))
    conn.execute("ANALYZE")
    return ids


@pytest.fixture(scope="module", params=[10000, 100000], ids=["10k", "100k"])
def tenant(request, pg, migrated_template):
    """(database, rows, ids) for each size, seeded once for the module."""
    name = pg.create_database(template=migrated_template)
    with pg.connect(name) as conn:
        ids = seed(conn, request.param)
    yield name, request.param, ids
    with pg.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def as_web(conn, role, tenant, user_id, tz):
    """The transaction as rally.cgi opens it: role, tenant, user, TimeZone."""
    conn.execute("BEGIN")
    conn.execute(f'SET LOCAL ROLE "{role}"')
    conn.execute("SELECT set_config('rally.tenant_id', %s, true),"
                 " set_config('rally.user_id', %s, true), set_config('TimeZone', %s, true)",
                 (str(tenant), str(user_id), tz))


def nested_plans(conn, sql):
    """The plans of the statements a function runs, from auto_explain (the
    kept plans themselves, with what each node read), as notices."""
    notices = []

    def keep(diag):
        notices.append(diag.message_primary)

    conn.add_notice_handler(keep)
    try:
        conn.execute(sql).fetchall()
    finally:
        conn.remove_notice_handler(keep)
    return [m for m in notices if "Query Text" in m and "set_config(" not in m
            and "Query Text: SELECT * FROM rally." not in m]


def scans(plan):
    """(kind, relation or index) of every scan node that ran: the index
    for an index scan ("Index Scan using i on t", "Bitmap Index Scan on
    i"), the table for a sequential one."""
    out = []
    for line in plan.splitlines():
        if "never executed" in line:
            continue
        m = re.search(r"(Index Scan(?: Backward)?|Index Only Scan) using (\w+) on", line) or \
            re.search(r"(Bitmap Index Scan|Seq Scan) on (\w+)", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


@pytest.mark.parametrize("who,tz", [("ann", "Europe/Paris"), ("bob", "Pacific/Kiritimati"),
                                    ("ann", "America/Los_Angeles")])
def test_dashboard_lists_are_the_old_statements_rows_in_the_same_order(pg, tenant, login_roles,
                                                                         who, tz):
    name, _, ids = tenant
    t, ann, bob = ids["a"]
    with pg.connect(name) as conn:
        as_web(conn, login_roles["web"], t, ann if who == "ann" else bob, tz)
        up = conn.execute("SELECT * FROM rally.web_dashboard_upcoming()").fetchall()
        assert up == conn.execute(OLD_UPCOMING).fetchall()
        assert len(up) == 10 and any(not r[6] for r in up) and any(r[6] for r in up)
        th = conn.execute("SELECT * FROM rally.web_dashboard_threads()").fetchall()
        assert th == conn.execute(OLD_THREADS).fetchall()
        assert len(th) == 10 and any(r[5] for r in th) and not all(r[5] for r in th)
        conn.execute("ROLLBACK")


def test_dashboard_lists_use_their_indexes_and_read_a_few_pages(pg, tenant, login_roles):
    name, rows, ids = tenant
    t, ann, _ = ids["a"]
    with pg.connect(name) as conn:
        conn.execute("LOAD 'auto_explain'")
        for k, v in (("log_min_duration", "0"), ("log_analyze", "on"),
                     ("log_buffers", "on"), ("log_timing", "off"),
                     ("log_nested_statements", "on"), ("log_level", "notice")):
            conn.execute(f"SET auto_explain.{k} = {v}")
        as_web(conn, login_roles["web"], t, ann, "Europe/Paris")
        # An index's range in start order, or (for a range the planner
        # thinks holds a few rows) the same range as a bitmap, then sorted.
        expect = {
            "web_dashboard_upcoming": {"activities_owner_start", "activities_start",
                                       "activities_owner_start_date", "activities_start_date"},
            "web_dashboard_threads": {"mail_threads_user", "mail_threads_shared_recent"},
        }
        big = {"activities", "mail_threads", "mail_messages"}
        for fn, wanted in expect.items():
            for _ in range(3):      # the plan PL/pgSQL keeps, run again
                plans = nested_plans(conn, f"SELECT * FROM rally.{fn}()")
                assert len(plans) == 1, plans
                plan = plans[0]
                ran = scans(plan)
                assert wanted <= {name for _, name in ran}, (rows, plan)
                assert not [s for s in ran if s[0] == "Seq Scan" and s[1] in big], plan
                assert "Sort Method: external" not in plan, plan
                # Each range stops after its ten rows, or at the week's
                # end: a few pages, the same at 100,000 rows as at 10,000.
                total = [int(x) for x in re.findall(r"shared hit=(\d+)", plan)]
                assert total and max(total) < 200, (rows, plan)
        conn.execute("ROLLBACK")
