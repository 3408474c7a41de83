# SPDX-License-Identifier: ISC
"""What the catalog must say about every table, so that a table added later
without tenant_id, without row-level security or with a key that cannot be
distributed by tenant fails here."""

import pytest

# The runner's bookkeeping table (lib/db creates it) is not tenant data.
NOT_TENANT_DATA = ("schema_migrations", "schema_functions")

# Tables that hold a user's data and must go with the user.
PER_USER = ("sessions", "google_connections", "oauth_pending", "activities", "merge_conflicts",
            "mail_threads", "mail_outbox", "mail_label_ops", "exports", "notices",
            "usage_events", "usage_daily", "password_resets", "mail_outbox_attachments")
# Tables that must survive every deletion (and so reference nothing).
SURVIVORS = ("audit_log", "deletion_ledger", "token_revocations", "jobs", "instances",
             "backups", "ledger_keys", "deletion_purges", "quota_buckets")


@pytest.fixture
def conn(pg, db):
    with pg.connect(db) as c:
        yield c


def _tables(conn):
    return [r[0] for r in conn.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'rally'::regnamespace "
        "AND relkind IN ('r', 'p') AND relname <> ALL(%s) ORDER BY 1", (list(NOT_TENANT_DATA),))]


def test_the_data_model_has_every_table_of_the_design(conn):
    assert set(_tables(conn)) == {
        "tenants", "users", "billing_profiles", "sessions", "google_connections",
        "activities", "merge_conflicts", "mail_threads", "mail_messages", "mail_outbox",
        "mail_label_ops", "sync_state", "oauth_pending", "token_revocations", "jobs",
        "job_runs", "instances", "deletion_ledger", "exports", "backups", "notices",
        "usage_events", "usage_daily", "audit_log", "activity_tombstones", "push_secrets",
        "ledger_keys", "deletion_purges", "login_failures",
        # Password reset links and invitations (migration 0032).
        "password_resets", "invitations",
        # The Gmail per-project quota, shared by the instances (migration 0055).
        "quota_buckets",
        # Files sent with an outbox message (migration 0056).
        "mail_outbox_attachments"}


def test_every_table_has_a_non_null_uuid_tenant_id(conn):
    bad = conn.execute(
        "SELECT c.relname, a.atttypid::regtype::text, a.attnotnull FROM pg_class c "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
        "AND NOT a.attisdropped "
        "WHERE c.relnamespace = 'rally'::regnamespace AND c.relkind IN ('r', 'p') "
        "AND c.relname <> ALL(%s) "
        "AND (a.attnum IS NULL OR a.atttypid <> 'uuid'::regtype OR NOT a.attnotnull)",
        (list(NOT_TENANT_DATA),)).fetchall()
    assert bad == []


def test_every_primary_and_unique_key_includes_tenant_id(conn):
    keys = conn.execute(
        "SELECT i.indexrelid::regclass::text, c.relname, "
        "  EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
        "    AND a.attname = 'tenant_id' AND a.attnum = ANY(i.indkey)) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "WHERE c.relnamespace = 'rally'::regnamespace AND (i.indisunique OR i.indisprimary) "
        "AND c.relname <> ALL(%s)", (list(NOT_TENANT_DATA),)).fetchall()
    assert len(keys) >= 30
    assert [k for k in keys if not k[2]] == []
    every_table_has_pk = conn.execute(
        "SELECT relname FROM pg_class c WHERE relnamespace = 'rally'::regnamespace "
        "AND relkind = 'r' AND NOT EXISTS (SELECT 1 FROM pg_index i "
        "WHERE i.indrelid = c.oid AND i.indisprimary)").fetchall()
    assert every_table_has_pk == []


def test_every_foreign_key_includes_tenant_id(conn):
    # Citus co-locates by tenant: a reference must stay within one tenant.
    bad = conn.execute(
        "SELECT conname FROM pg_constraint k "
        "WHERE k.connamespace = 'rally'::regnamespace AND k.contype = 'f' "
        "AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = k.conrelid "
        "  AND a.attname = 'tenant_id' AND a.attnum = ANY(k.conkey))").fetchall()
    assert bad == []


def test_every_table_forces_row_level_security_with_daemon_and_owner_policies(conn):
    rows = conn.execute(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
        "  pg_get_userbyid(c.relowner), "
        "  (SELECT array_agg(p.polname ORDER BY p.polname) FROM pg_policy p "
        "   WHERE p.polrelid = c.oid AND p.polroles = ARRAY['rally_daemon'::regrole::oid]), "
        "  (SELECT array_agg(p.polname ORDER BY p.polname) FROM pg_policy p "
        "   WHERE p.polrelid = c.oid AND p.polroles = ARRAY['rally_owner'::regrole::oid]) "
        "FROM pg_class c WHERE c.relnamespace = 'rally'::regnamespace "
        "AND c.relkind IN ('r', 'p') AND c.relname <> ALL(%s)",
        (list(NOT_TENANT_DATA),)).fetchall()
    assert len(rows) == len(_tables(conn))
    for name, rls, force, owner, daemon, own in rows:
        assert (name, rls, force, owner) == (name, True, True, "rally_owner")
        assert daemon == ["daemon_all"], name
        assert own == ["owner_all"], name


def test_no_web_policy_lets_rows_through_unconditionally(conn):
    # Every rally_web policy compares tenant_id with the session's tenant.
    rows = conn.execute(
        "SELECT c.relname, p.polname, coalesce(pg_get_expr(p.polqual, p.polrelid), ''), "
        "  coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') "
        "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
        "WHERE 'rally_web'::regrole::oid = ANY(p.polroles) "
        "   OR 0::oid = ANY(p.polroles)").fetchall()
    assert len(rows) >= 20
    for table, name, using, check in rows:
        for expr in (using, check):
            if expr:
                assert "(tenant_id = rally.current_tenant())" in expr, (table, name, expr)


def test_per_user_data_goes_with_the_user_and_users_with_the_tenant(conn):
    def cascades_to(table, target):
        return conn.execute(
            "SELECT bool_or(confdeltype = 'c') FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = %s::regclass AND confrelid = %s::regclass",
            (f"rally.{table}", f"rally.{target}")).fetchone()[0]

    for t in PER_USER:
        assert cascades_to(t, "users"), t
    assert cascades_to("users", "tenants")
    assert cascades_to("billing_profiles", "tenants")
    assert cascades_to("sync_state", "google_connections")
    assert cascades_to("mail_messages", "mail_threads")
    for t in SURVIVORS:
        n = conn.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                         "AND conrelid = %s::regclass", (f"rally.{t}",)).fetchone()[0]
        assert n == 0, t


def test_jobs_tables_match_the_job_engine_contract(conn):
    cols = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'rally.jobs'::regclass "
        "AND attnum > 0 AND NOT attisdropped ORDER BY attnum").fetchall()
    assert [c[0] for c in cols] == [
        "tenant_id", "id", "kind", "dedupe_key", "payload", "state", "run_at", "attempts",
        "max_attempts", "lease_owner", "lease_expires", "last_error", "result", "created_at",
        "started_at", "finished_at"]
    idx = {r[0]: r[1] for r in conn.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = 'rally.jobs'::regclass")}
    assert "(tenant_id, kind, dedupe_key) WHERE ((state = 'pending'::text) AND " \
        "(dedupe_key IS NOT NULL))" in idx["rally.jobs_dedupe"]
    assert "(run_at) WHERE (state = 'pending'::text)" in idx["rally.jobs_due"]
    assert "(lease_expires) WHERE (state = 'running'::text)" in idx["rally.jobs_lease"]
    assert "UNIQUE" in idx["rally.jobs_dedupe"]


def test_no_function_is_callable_by_public_and_definers_pin_search_path(conn):
    rows = conn.execute(
        "SELECT p.proname, p.prosecdef, p.proconfig, "
        "  has_function_privilege('public', p.oid, 'EXECUTE') "
        "FROM pg_proc p WHERE p.pronamespace = 'rally'::regnamespace").fetchall()
    assert rows
    for name, secdef, config, public in rows:
        assert not public, name
        if secdef:
            assert config and any(c.startswith("search_path=pg_catalog") for c in config), name


def test_web_may_call_only_the_lookups_it_needs(conn):
    callable_by_web = {r[0] for r in conn.execute(
        "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'rally'::regnamespace "
        "AND p.prosecdef AND has_function_privilege('rally_web', p.oid, 'EXECUTE')")}
    # The web tier's requests are named for it, so that a security definer
    # helper granted to rally_web by mistake stands out.
    assert {n for n in callable_by_web if not n.startswith(("web_", "hook_"))} == set()
    assert callable_by_web >= {"web_login_lookup", "web_session_lookup", "hook_calendar",
                               "hook_gmail", "web_request_sync", "web_disconnect",
                               "web_account_delete_request", "web_account_delete_cancel",
                               "web_deletion_pending_lookup", "web_export_request",
                               "web_account_update", "web_usage_record", "web_signup",
                               "web_login_wait", "web_login_failed", "web_login_succeeded",
                               "web_session_resume", "web_session_end",
                               "web_oauth_begin", "web_oauth_callback", "web_oauth_status",
                               "web_reset_request", "web_reset_check", "web_reset_complete",
                               "web_invite_create", "web_invite_lookup", "web_invite_accept",
                               "web_invite_revoke", "web_member_role", "web_member_remove"}


def test_tenant_context_functions_are_inlined_into_policies(conn):
    # Inlined, the planner can use (tenant_id, ...) indexes under RLS.
    conn.execute("SET ROLE rally_web")
    conn.execute("SELECT set_config('rally.tenant_id', gen_random_uuid()::text, false)")
    plan = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN SELECT id FROM rally.activities WHERE id = gen_random_uuid()"))
    assert "current_setting" in plan
    assert "current_tenant" not in plan
