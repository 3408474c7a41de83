-- SPDX-License-Identifier: ISC
-- What the account pages of rally.cgi need beyond the compliance
-- routines they call (docs/web.md, "Account and privacy").  Security
-- definer, about the caller's own account only (rally.tenant_id and
-- rally.user_id of the transaction), returning no more than the page shows.
set local role rally_owner;

-- When the caller's pending deletion starts (the end of the grace period,
-- until which it may be cancelled) and when it is due to be complete.  No
-- row when no deletion is pending.  The sign-in page calls it after the
-- password of an account found by rally.web_deletion_pending_lookup was
-- verified and the context set: users.deletion_purge_after is not a column
-- rally_web may read, and the due date is the ledger's.
create or replace function rally.web_deletion_pending_dates()
returns table (purge_after timestamptz, due_at timestamptz)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select u.deletion_purge_after, l.due_at
	from rally.users u
	left join rally.deletion_ledger l on l.tenant_id = u.tenant_id
	    and l.kind = 'account_deletion' and l.completed_at is null
	    and l.cancelled_at is null
	    and rally.ledger_matches(l.subject_hash, l.hash_key_id, 'user', u.id)
	where u.tenant_id = rally.current_tenant() and u.id = rally.current_user_id()
	    and u.status = 'deletion_pending'
	limit 1
$$;

revoke all on function rally.web_deletion_pending_dates() from public;
grant execute on function rally.web_deletion_pending_dates() to rally_web;
