-- SPDX-License-Identifier: ISC
-- The web tier changes what a compliance routine owns only through that
-- routine (docs/compliance.md, "What the web tier may write"): a direct
-- UPDATE of an integration's flag, of a user's status, address or name,
-- of the company or billing details, or an export row of its own making
-- would skip the ledger and audit entries the routine writes with it, and
-- a ledger or audit entry of its own making would record a change nobody
-- made (a restore re-applies the ledger).  The rally.web_* functions do
-- each of these things with its entries, as rally_owner.
set local role rally_owner;

-- Disconnect: rally.web_disconnect.
revoke update (calendar_enabled, mail_enabled, updated_at)
    on rally.google_connections from rally_web;
drop policy web_update on rally.google_connections;

-- Deletion (status), rectification and objection: rally.web_account_delete_request,
-- rally.web_account_delete_cancel, rally.web_account_update.  rally.cgi still
-- sets last_login_at at sign-in and rehashes a password on its own row.
revoke update (email, name, analytics_opt_out, status, deletion_requested_at, time_zone)
    on rally.users from rally_web;

-- The company and billing details: rally.web_account_update, for owners.
revoke update (name, company_size, updated_at) on rally.tenants from rally_web;
drop policy web_update on rally.tenants;
revoke insert, update on rally.billing_profiles from rally_web;
drop policy web_insert on rally.billing_profiles;
drop policy web_update on rally.billing_profiles;

-- Export requests: rally.web_export_request.  The user still reads and may
-- delete their own exports.
revoke insert (tenant_id, id, user_id) on rally.exports from rally_web;

-- The ledger and the audit log are written by the functions that make the
-- changes they record, never by rally_web itself.
revoke insert (tenant_id, kind, subject_hash, hash_key_id, due_at)
    on rally.deletion_ledger from rally_web;
drop policy web_insert on rally.deletion_ledger;
revoke insert (tenant_id, actor, actor_hash, action, subject_hash, hash_key_id, detail)
    on rally.audit_log from rally_web;
drop policy web_insert on rally.audit_log;
