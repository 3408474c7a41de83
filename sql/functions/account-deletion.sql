-- SPDX-License-Identifier: ISC
-- Account deletion (docs/compliance.md).  At the request, in one
-- transaction: sign-in blocked (status deletion_pending), sessions ended,
-- every Google connection disconnected (tokens out of the row at once,
-- revoked by rallyd within minutes), the ledger and audit entries, a
-- notice, and the accountpurge job due when the grace period ends.  Then
-- rally.account_purge_batch deletes every row about the user, a short
-- batch at a time, and for the last member of a tenant the tenant's
-- company and billing data too.  What is left: the ledger entries (keyed
-- hashes), the audit entries (hashes, counts) and the purge counts.
set local role rally_owner;

-- The rows about a user, in the order the purge deletes them: children
-- before parents, so no statement cascades into a large delete.  $1 the
-- tenant, $2 the user.
create or replace function rally.account_purge_tables() returns text[][]
language sql immutable parallel safe
as $$
	select array[
	    ['merge_conflicts', 'owner_id = $2'],
	    ['activity_tombstones', 'owner_id = $2'],
	    ['activities', 'owner_id = $2'],
	    ['mail_label_ops', 'user_id = $2'],
	    ['mail_outbox', 'user_id = $2'],
	    ['mail_messages', 'user_id = $2'],
	    ['mail_threads', 'user_id = $2'],
	    ['sync_state', 'connection_id in (select g.id from rally.google_connections g'
	        ' where g.tenant_id = $1 and g.user_id = $2)'],
	    ['oauth_pending', 'user_id = $2'],
	    ['google_connections', 'user_id = $2'],
	    ['sessions', 'user_id = $2'],
	    ['password_resets', 'user_id = $2'],
	    ['usage_events', 'user_id = $2'],
	    ['usage_daily', 'user_id = $2'],
	    ['exports', 'user_id = $2'],
	    ['notices', 'user_id = $2'],
	    ['users', 'id = $2']]
$$;

-- The user a deletion ledger entry is about (NULL once the row is gone).
create or replace function rally.account_deletion_user(p_tenant uuid, p_ledger uuid)
returns uuid
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select u.id from rally.users u, rally.deletion_ledger l
	where l.tenant_id = p_tenant and l.id = p_ledger and l.kind = 'account_deletion'
	    and u.tenant_id = p_tenant and u.status = 'deletion_pending'
	    and rally.ledger_matches(l.subject_hash, l.hash_key_id, 'user', u.id)
$$;

-- The notice of a deletion request.  p_by says who asked: 'self' (the
-- user, from the account page), 'owner' (an owner removed the user from
-- the workspace, rally.web_member_remove: the user did not ask, and there
-- is no grace period to cancel in) or 'operator' (rallyctl user delete:
-- Rally's operators, on a request that reached them another way).
drop function if exists rally.account_deletion_notice(uuid, uuid, boolean, interval,
    timestamptz, timestamptz);
create or replace function rally.account_deletion_notice(p_tenant uuid, p_user uuid,
    p_by text, p_grace interval, p_purge_after timestamptz, p_due_at timestamptz)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
	if p_by is null or p_by not in ('self', 'owner', 'operator') then
		raise exception 'account_deletion_notice: by self, owner or operator'
		    using errcode = '22023';
	end if;
	-- plpgsql: notices.sql is applied after this file.
	perform rally.notice_queue(p_tenant, p_user, 'compliance',
	    case when p_by = 'owner' then 'You were removed from your Rally workspace'
	        else 'Your Rally account will be deleted' end,
	    case p_by
	        when 'owner' then E'An owner of your Rally workspace removed you from it, '
	            'so your Rally account is being deleted.\n\n'
	        when 'operator' then E'Rally''s operators started the deletion of your '
	            'Rally account.\n\n'
	        else E'We received a request to delete your Rally account.\n\n' end
	    || format(E'Your Google connections were disconnected and their tokens deleted. '
	        'Everything else we hold about you will be deleted from %s UTC, and '
	        'no later than %s UTC.\n%s',
	        to_char(p_purge_after at time zone 'UTC', 'YYYY-MM-DD HH24:MI'),
	        to_char(p_due_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI'),
	        case when p_by = 'owner'
	            then E'\nIf you think this is a mistake, ask an owner of your workspace.\n'
	        when p_grace > interval '0' and p_by = 'operator'
	            then E'\nIf you did not ask for this, sign in before then to cancel the '
	                'deletion, and tell Rally''s support.\n'
	        when p_grace > interval '0'
	            then E'\nUntil then you may sign in and cancel the deletion.\n'
	        when p_by = 'operator'
	            then E'\nIf you did not ask for this, tell Rally''s support.\n'
	        else '' end));
end
$$;

-- The last notice to a deleted user, queued in the batch that deletes
-- their row: the address is read from the row now and kept only in the
-- notice, which has no user and is deleted once sent (daemon/job-notice.c)
-- or once it could not be delivered in time (rally.farewell_notices_expire).
create or replace function rally.account_purged_notice(p_tenant uuid, p_user uuid,
    p_requested_at timestamptz) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
	perform rally.notice_queue_secret(p_tenant, null, u.email, 'compliance',
	    'Your Rally account has been deleted',
	    format(E'Your Rally account has been deleted.\n\n'
	        'Everything Rally held about you, your profile, your Google connections '
	        'and what they synced, your activities, mail, usage data, exports and '
	        'notices, was permanently deleted on %s UTC. Rally''s encrypted backups '
	        'made before then are deleted as they expire, no later than %s UTC.\n\n'
	        'Rally keeps no copy of this address: this is the last message it sends '
	        'you.\n',
	        to_char(now() at time zone 'UTC', 'YYYY-MM-DD HH24:MI'),
	        to_char((p_requested_at + interval '30 days') at time zone 'UTC',
	            'YYYY-MM-DD HH24:MI')))
	from rally.users u where u.tenant_id = p_tenant and u.id = p_user
	    -- An address the relay could be given (the check of notices.to_address,
	    -- migration 0033): one it would refuse must not stop the purge.
	    and u.email !~ '[[:space:][:cntrl:]<>(),;:"\[\]\\]';
end
$$;

-- p_actor 'user' or 'operator'; p_grace how long the user may still
-- cancel; p_lag how late the purge may finish after that (the due date
-- is request + grace + lag).  One row: the ledger entry (an existing one
-- when the deletion was requested already), when the purge starts, when
-- it is due.  No row for a user that does not exist or is deleted.
create or replace function rally.account_delete_request(p_tenant uuid, p_user uuid,
    p_actor text, p_actor_id uuid, p_grace interval, p_lag interval)
returns table (ledger_id uuid, purge_after timestamptz, due_at timestamptz)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	u rally.users;
	c uuid;
	last_member boolean;
begin
	if p_actor not in ('user', 'operator') or p_grace < interval '0'
	    or p_lag < interval '0' or p_grace + p_lag > interval '30 days' then
		raise exception 'account_delete_request: actor user or operator, and '
		    'grace + lag of at most 30 days' using errcode = '22023';
	end if;
	select * into u from rally.users where tenant_id = p_tenant and id = p_user for update;
	if not found or u.status = 'deleted' then
		return;
	end if;
	if u.status = 'deletion_pending' then
		return query select l.id, u.deletion_purge_after, l.due_at
		from rally.deletion_ledger l
		where l.tenant_id = p_tenant and l.kind = 'account_deletion'
		    and l.completed_at is null and l.cancelled_at is null
		    and rally.ledger_matches(l.subject_hash, l.hash_key_id, 'user', p_user);
		return;
	end if;
	update rally.users set status = 'deletion_pending', deletion_requested_at = now(),
	    deletion_purge_after = now() + p_grace, updated_at = now()
	where tenant_id = p_tenant and id = p_user;
	delete from rally.sessions where tenant_id = p_tenant and user_id = p_user;
	delete from rally.oauth_pending where tenant_id = p_tenant and user_id = p_user;
	for c in select g.id from rally.google_connections g
	    where g.tenant_id = p_tenant and g.user_id = p_user order by g.id loop
		perform rally.compliance_disconnect(p_tenant, c, true, true, p_actor,
		    case when p_actor = 'user' then p_user end);
	end loop;
	purge_after := now() + p_grace;
	due_at := now() + p_grace + p_lag;
	ledger_id := rally.ledger_add(p_tenant, 'account_deletion', 'user', p_user, due_at);
	last_member := not exists (select 1 from rally.users o where o.tenant_id = p_tenant
	    and o.id <> p_user and o.status = 'active');
	if last_member then
		update rally.tenants set status = 'deletion_pending',
		    deletion_requested_at = now(), updated_at = now()
		where tenant_id = p_tenant and status = 'active';
		perform rally.ledger_add(p_tenant, 'tenant_deletion', 'tenant', p_tenant, due_at);
	end if;
	perform rally.audit_about(p_tenant, p_actor, p_actor_id, 'account.deletion_requested',
	    'user', p_user, jsonb_build_object('grace_seconds',
	        extract(epoch from p_grace)::bigint, 'last_member', last_member));
	perform rally.account_deletion_notice(p_tenant, p_user,
	    case when p_actor = 'operator' then 'operator'
	        when p_actor_id is distinct from p_user then 'owner' else 'self' end,
	    p_grace, purge_after, due_at);
	perform rally.job_enqueue(p_tenant, 'accountpurge', ledger_id::text,
	    jsonb_build_object('ledger_id', ledger_id), purge_after, 1000);
	return next;
end
$$;

-- Cancels a deletion still in its grace period (the purge has not
-- started): the user may sign in again; Google connections stay
-- disconnected (their grants are revoked).  False when there is nothing
-- to cancel.
create or replace function rally.account_delete_cancel(p_tenant uuid, p_user uuid,
    p_actor text) returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	l rally.deletion_ledger;
begin
	perform 1 from rally.users where tenant_id = p_tenant and id = p_user
	    and status = 'deletion_pending' and deletion_purge_after > now() for update;
	if not found then
		return false;
	end if;
	select * into l from rally.deletion_ledger d
	where d.tenant_id = p_tenant and d.kind = 'account_deletion'
	    and d.completed_at is null and d.cancelled_at is null
	    and rally.ledger_matches(d.subject_hash, d.hash_key_id, 'user', p_user);
	if l.id is null or exists (select 1 from rally.deletion_purges p
	    where p.tenant_id = p_tenant and p.ledger_id = l.id) then
		return false;
	end if;
	update rally.users set status = 'active', deletion_requested_at = null,
	    deletion_purge_after = null, updated_at = now()
	where tenant_id = p_tenant and id = p_user;
	update rally.deletion_ledger set cancelled_at = now()
	where tenant_id = p_tenant and id = l.id;
	update rally.tenants set status = 'active', deletion_requested_at = null,
	    updated_at = now()
	where tenant_id = p_tenant and status = 'deletion_pending';
	update rally.deletion_ledger d set cancelled_at = now()
	where d.tenant_id = p_tenant and d.kind = 'tenant_deletion'
	    and d.completed_at is null and d.cancelled_at is null;
	perform rally.audit_about(p_tenant, p_actor, p_user, 'account.deletion_cancelled',
	    'user', p_user);
	return true;
end
$$;

-- One batch of the purge of ledger entry p_ledger: the rows deleted (0
-- when nothing is left: the entry is completed and the audit log records
-- the counts), or -1 when the database shows no deletion to run (not an
-- account deletion of this tenant, cancelled, or still in its grace
-- period), whatever the job's payload claimed.
create or replace function rally.account_purge_batch(p_tenant uuid, p_ledger uuid)
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	l rally.deletion_ledger;
	u uuid;
	tbl text[];
	n int;
	others boolean;
begin
	select * into l from rally.deletion_ledger
	where tenant_id = p_tenant and id = p_ledger and kind = 'account_deletion';
	if l.id is null or l.cancelled_at is not null then
		return -1;
	end if;
	if l.completed_at is not null then
		return 0;
	end if;
	u := rally.account_deletion_user(p_tenant, p_ledger);
	if u is not null and exists (select 1 from rally.users where tenant_id = p_tenant
	    and id = u and deletion_purge_after > now()) then
		return -1;
	end if;
	-- Google's rows and the CRM's alike, and nothing pushed to Google.
	perform pg_catalog.set_config('rally.origin', 'google', true);
	if u is not null then
		foreach tbl slice 1 in array rally.account_purge_tables() loop
			-- The user's row goes last, in the batch that completes the
			-- entry, with the notice that says so.
			if tbl[1] = 'users' then
				perform rally.account_purged_notice(p_tenant, u, l.requested_at);
			end if;
			execute format('delete from rally.%1$I where ctid = any(array('
			    'select ctid from rally.%1$I where tenant_id = $1 and (%2$s)'
			    ' limit 500))', tbl[1], tbl[2]) using p_tenant, u;
			get diagnostics n = row_count;
			if n > 0 then
				perform rally.account_purge_count(p_tenant, p_ledger, tbl[1], n);
				if tbl[1] <> 'users' then
					return n;
				end if;
			end if;
		end loop;
	end if;
	others := exists (select 1 from rally.users where tenant_id = p_tenant);
	if not others then
		delete from rally.billing_profiles where tenant_id = p_tenant;
		get diagnostics n = row_count;
		perform rally.account_purge_count(p_tenant, p_ledger, 'billing_profiles', n);
		delete from rally.tenants where tenant_id = p_tenant;
		get diagnostics n = row_count;
		perform rally.account_purge_count(p_tenant, p_ledger, 'tenants', n);
		update rally.deletion_ledger set completed_at = now()
		where tenant_id = p_tenant and kind = 'tenant_deletion'
		    and completed_at is null and cancelled_at is null;
	end if;
	update rally.deletion_ledger set completed_at = now()
	where tenant_id = p_tenant and id = p_ledger;
	insert into rally.audit_log (tenant_id, actor, action, subject_hash, hash_key_id, detail)
	select p_tenant, 'daemon', 'account.purged', l.subject_hash, l.hash_key_id,
	    coalesce(jsonb_object_agg(p.table_name, p.rows), '{}')
	from rally.deletion_purges p where p.tenant_id = p_tenant and p.ledger_id = p_ledger;
	return 0;
end
$$;

create or replace function rally.account_purge_count(p_tenant uuid, p_ledger uuid,
    p_table text, p_rows bigint) returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
	insert into rally.deletion_purges as d (tenant_id, ledger_id, table_name, rows)
	values (p_tenant, p_ledger, p_table, p_rows)
	on conflict (tenant_id, ledger_id, table_name)
	do update set rows = d.rows + excluded.rows, updated_at = now()
$$;

-- The CGI: a signed-in user asks for the deletion of their own account
-- (grace and lag as rally.conf gives them to rally.cgi, capped at 30
-- days together), or, signed in during the grace period through
-- rally.web_deletion_pending_lookup, cancels it.
create or replace function rally.web_account_delete_request(p_grace interval, p_lag interval)
returns timestamptz
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	t uuid := rally.current_tenant();
	u uuid := rally.current_user_id();
	r record;
begin
	if t is null or u is null then
		return null;
	end if;
	-- The last owner of a workspace others still use would leave it with
	-- no one to run it: rally.cgi does not offer the deletion then, and
	-- neither does this, whatever the web tier asks.  The owners are
	-- locked, as for a demotion, so two owners cannot both leave.
	perform rally.team_lock_owners(t);
	if exists (select 1 from rally.users o where o.tenant_id = t and o.id = u
	        and o.role = 'owner')
	    and exists (select 1 from rally.users o where o.tenant_id = t and o.id <> u
	        and o.status = 'active')
	    and not exists (select 1 from rally.users o where o.tenant_id = t and o.id <> u
	        and o.status = 'active' and o.role = 'owner') then
		raise exception 'the last owner of a workspace with other members cannot delete the account'
		    using errcode = 'P0001', hint = 'Make another member an owner first.';
	end if;
	select * into r from rally.account_delete_request(t, u, 'user', u, p_grace, p_lag);
	return r.due_at;
end
$$;

create or replace function rally.web_account_delete_cancel() returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if rally.current_tenant() is null or rally.current_user_id() is null then
		return false;
	end if;
	return rally.account_delete_cancel(rally.current_tenant(), rally.current_user_id(),
	    'user');
end
$$;

-- Like rally.web_login_lookup, for the accounts whose deletion is in its
-- grace period: the CGI verifies the password, then offers to cancel.
create or replace function rally.web_deletion_pending_lookup(p_email text)
returns table (tenant_id uuid, user_id uuid, password_hash text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select u.tenant_id, u.id, u.password_hash from rally.users u
	where lower(u.email) = lower(p_email) and u.status = 'deletion_pending'
	    and u.deletion_purge_after > now() and u.password_hash is not null
	order by u.email_confirmed_at is null, u.created_at limit 20
$$;

-- Open ledger entries past their due date, for the crit log and the report.
create or replace function rally.deletions_overdue()
returns table (tenant_id uuid, id uuid, kind text, requested_at timestamptz,
    due_at timestamptz)
language sql stable
set search_path = pg_catalog, pg_temp
as $$
	select l.tenant_id, l.id, l.kind, l.requested_at, l.due_at from rally.deletion_ledger l
	where l.completed_at is null and l.cancelled_at is null and l.due_at < now()
	order by l.due_at
$$;

revoke all on function rally.account_purge_tables(), rally.account_deletion_user(uuid, uuid),
    rally.account_deletion_notice(uuid, uuid, text, interval, timestamptz, timestamptz),
    rally.account_purged_notice(uuid, uuid, timestamptz),
    rally.account_delete_request(uuid, uuid, text, uuid, interval, interval),
    rally.account_delete_cancel(uuid, uuid, text), rally.account_purge_batch(uuid, uuid),
    rally.account_purge_count(uuid, uuid, text, bigint),
    rally.web_account_delete_request(interval, interval), rally.web_account_delete_cancel(),
    rally.web_deletion_pending_lookup(text), rally.deletions_overdue() from public;
grant execute on function rally.account_delete_request(uuid, uuid, text, uuid, interval, interval),
    rally.account_delete_cancel(uuid, uuid, text), rally.account_purge_batch(uuid, uuid),
    rally.deletions_overdue() to rally_daemon;
grant execute on function rally.web_account_delete_request(interval, interval),
    rally.web_account_delete_cancel(), rally.web_deletion_pending_lookup(text) to rally_web;
