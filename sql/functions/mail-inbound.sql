-- SPDX-License-Identifier: ISC
-- Gmail, Google → CRM.  rallyd fetches messages, decodes each in C
-- (lib/mail/decode: MIME bodies, charsets, encoded-words, addresses) into
-- one flat JSON row, and hands them over in batches to
-- rally.mail_apply_batch, which applies a batch as a set in one
-- transaction together with the sync position it completes (the
-- messages.list page token of a full sync, or the history id at the end
-- of an incremental one).  A crash repeats batches, which are idempotent,
-- and never skips one.  docs/mail.md, "Sync", has the whole protocol.
--
-- Every write is guarded by the Gmail history id: a message's row moves
-- only to a state at least as new as the one it has, so the same message
-- met twice (in one history page, across pages, or fetched after a label
-- change that history reports later) ends in its last state, whatever
-- order the pieces arrive in.
set local role rally_owner;

-- Starts a full sync (first sync, a history id Gmail has forgotten, or an
-- operator's resync): the mailbox's history id from users.getProfile is
-- where history takes over once the listing is done.  Returns the start,
-- which fences every batch of this full sync.
create or replace function rally.mail_start_full(p_tenant uuid, p_conn uuid,
    p_history_id numeric)
returns timestamptz
language sql
as $$
	update rally.sync_state set full_sync_started_at = now(),
	    full_sync_history_id = p_history_id, full_sync_page_token = null,
	    full_sync_required = true, updated_at = now()
	where tenant_id = p_tenant and connection_id = p_conn and resource = 'mail'
	returning full_sync_started_at
$$;

-- Of the message ids a history page changed the labels of, those Rally has
-- not stored: rallyd fetches them whole (a label change can bring a message
-- into view that the full sync's window left out).
create or replace function rally.mail_unknown_ids(p_tenant uuid, p_conn uuid, p_ids text[])
returns text[]
language sql stable
as $$
	select coalesce(array_agg(i.id), '{}')
	from unnest(p_ids) i(id)
	where not exists (select 1 from rally.mail_messages m
	    where m.tenant_id = p_tenant and m.connection_id = p_conn and m.gmail_id = i.id)
$$;

-- How the inbox names a sender (the From of a message, "Name <addr>" or
-- "addr"): its display name, else its address, and "me" for the account
-- of the mailbox.
create or replace function rally.mail_sender_name(p_from text, p_account text)
returns text
language sql immutable parallel safe
as $$
	select case when lower(coalesce(substring(p_from from '<([^<>]*)>\s*$'), btrim(p_from)))
	        = lower(p_account) then 'me'
	    else coalesce(nullif(btrim(substring(p_from from '^(.*)<[^<>]*>\s*$'), ' "'), ''),
	        btrim(p_from)) end
$$;

-- Recomputes the summary columns of the given threads from their messages
-- (the inbox page lists threads from these alone: migration 0035) and
-- removes the threads left without any.  plan_cache_mode = auto changes
-- nothing of this SQL function's own statements (planned on every call
-- whatever the setting) but lets the foreign-key checks of its update run
-- cached plans: PostgreSQL checks them for every row of a thread inserted
-- in the same transaction, which in a full sync is most of them (the
-- user, the connection: lookups by key in tables a sync does not grow;
-- a thread's removal cascades to its messages by thread, which
-- mail_tables_ensure_stats gives statistics so that a cached plan uses
-- the thread's index).
create or replace function rally.mail_threads_refresh(p_tenant uuid, p_threads uuid[])
returns void
language sql
set plan_cache_mode = auto
as $$
	update rally.mail_threads t set message_count = s.n, last_message_at = s.last_at,
	    subject = s.subject, snippet = s.snippet, hidden = s.hidden,
	    label_ids = l.ids, correspondents = c.names, updated_at = now()
	from (select m.thread_id, count(*) n, max(m.internal_date) last_at,
	        (array_agg(m.subject order by m.internal_date nulls last, m.gmail_id))[1] subject,
	        (array_agg(m.snippet order by m.internal_date desc nulls last, m.gmail_id desc))[1]
	            snippet,
	        bool_and(m.label_ids && '{TRASH,SPAM}') hidden
	    from rally.mail_messages m
	    where m.tenant_id = p_tenant and m.thread_id = any (p_threads)
	    group by m.thread_id) s
	cross join lateral (select coalesce(array_agg(distinct x order by x), '{}') ids
	    from rally.mail_messages m, unnest(m.label_ids) x
	    where m.tenant_id = p_tenant and m.thread_id = s.thread_id) l
	cross join lateral (select coalesce(array_agg(w.name order by w.first_at, w.name), '{}')
	        names
	    from (select rally.mail_sender_name(m.from_addr, g.google_email) name,
	            min(m.internal_date) first_at
	        from rally.mail_messages m
	        join rally.google_connections g on g.tenant_id = m.tenant_id
	            and g.id = m.connection_id
	        where m.tenant_id = p_tenant and m.thread_id = s.thread_id
	            and m.from_addr is not null
	        group by 1 order by 2 nulls last, 1 limit 4) w) c
	where t.tenant_id = p_tenant and t.id = s.thread_id;
	delete from rally.mail_threads t
	where t.tenant_id = p_tenant and t.id = any (p_threads)
	    and not exists (select 1 from rally.mail_messages m
	        where m.tenant_id = p_tenant and m.thread_id = t.id);
$$;

-- Keeps the statistics of rally.mail_threads and rally.mail_messages
-- from describing a table much smaller than it is while it is small: the
-- foreign-key checks of a batch's rows run cached plans (mail_insert_rows),
-- and a plan made from statistics of a table of a page or two, or of none
-- (every index that starts with tenant_id then looks alike), may scan the
-- table, or every row of the tenant, for each row checked, and keeps doing
-- so as the table grows (test_mail_sql.py, "a plan made on an empty
-- mailbox").  So a table never analyzed, or that more than doubled since
-- its statistics were taken while they said it was under 16 pages, is
-- analyzed here (ANALYZE invalidates the plans made before it); from 16
-- pages on, a plan looks a row up by its key whatever the table grows to,
-- and autovacuum's ANALYZE is enough.  A few ANALYZEs of small tables in a
-- database's first sync, none once it holds mail.  Security definer:
-- ANALYZE is the owner's.
create or replace function rally.mail_tables_ensure_stats()
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	t regclass;
	v_pages int;
	v_tuples real;
begin
	foreach t in array array['rally.mail_threads'::regclass,
	    'rally.mail_messages'::regclass] loop
		select c.relpages, c.reltuples into v_pages, v_tuples from pg_class c
		where c.oid = t;
		if v_tuples < 0 or (v_pages < 16
		    and pg_relation_size(t) / current_setting('block_size')::int
		        > 2 * v_pages + 1) then
			execute format('analyze %s', t);
		end if;
	end loop;
end
$$;

-- The threads of the session's scratch rows that are new.  Under
-- plan_cache_mode = auto for the same reason as mail_insert_rows: the
-- statement reads only the scratch table, and its per-row foreign-key
-- checks (the user, the connection: tables a sync does not grow) run
-- cached plans.
create or replace function rally.mail_insert_threads(p_tenant uuid, p_conn uuid, p_user uuid)
returns void
language plpgsql
set plan_cache_mode = auto
as $$
begin
	insert into rally.mail_threads (tenant_id, user_id, connection_id, gmail_thread_id)
	select distinct p_tenant, p_user, p_conn, r.thread_id from pg_temp.mail_batch_rows r
	on conflict (tenant_id, connection_id, gmail_thread_id) do nothing;
end
$$;

-- Writes the session's scratch rows (pg_temp.mail_batch_rows; their
-- threads' Gmail ids and ids in p_gmail_threads, p_threads) into
-- rally.mail_messages, each only over an older state.  A function of its
-- own for its plan_cache_mode: its statement reads nothing but the scratch
-- table and the arrays (the conflict on the unique gmail_id key is found
-- through that index, not by a plan), so a cached plan of it is right
-- whatever the mailbox holds; and PostgreSQL's per-row foreign-key checks
-- of the rows it inserts (the thread, the connection: lookups by a unique
-- key) then run their cached plans instead of being planned again for
-- every row under the caller's force_custom_plan (docs/mail-sync.md,
-- "Cost").  PL/pgSQL, so that the scratch table need not exist when this
-- file is applied.
create or replace function rally.mail_insert_rows(p_tenant uuid, p_conn uuid, p_user uuid,
    p_gmail_threads text[], p_threads uuid[], out written int, out threads uuid[])
language plpgsql
set plan_cache_mode = auto
as $$
begin
	with w as (
		insert into rally.mail_messages as m (tenant_id, thread_id, user_id,
		    connection_id, gmail_id, rfc822_message_id, in_reply_to, references_header,
		    from_addr, reply_to, to_addrs, cc_addrs, bcc_addrs, subject, snippet,
		    body_text, body_html, label_ids, internal_date, gmail_history_id,
		    size_estimate, attachments, synced_at)
		select p_tenant, t.id, p_user, p_conn, r.gmail_id, r.message_id, r.in_reply_to,
		    r."references", r."from", r.reply_to, coalesce(r."to", '{}'),
		    coalesce(r.cc, '{}'), coalesce(r.bcc, '{}'), r.subject, r.snippet,
		    r.body_text, r.body_html, coalesce(r.label_ids, '{}'),
		    to_timestamp(r.internal_date_ms / 1000.0), r.history_id, r.size_estimate,
		    coalesce(r.attachments, '[]'), now()
		from pg_temp.mail_batch_rows r
		join unnest(p_gmail_threads, p_threads) t(gmail_thread_id, id)
		    on t.gmail_thread_id = r.thread_id
		on conflict (tenant_id, connection_id, gmail_id) do update set
		    thread_id = excluded.thread_id, rfc822_message_id = excluded.rfc822_message_id,
		    in_reply_to = excluded.in_reply_to,
		    references_header = excluded.references_header,
		    from_addr = excluded.from_addr, reply_to = excluded.reply_to,
		    to_addrs = excluded.to_addrs, cc_addrs = excluded.cc_addrs,
		    bcc_addrs = excluded.bcc_addrs, subject = excluded.subject,
		    snippet = excluded.snippet, body_text = excluded.body_text,
		    body_html = excluded.body_html, label_ids = excluded.label_ids,
		    internal_date = excluded.internal_date,
		    gmail_history_id = excluded.gmail_history_id,
		    size_estimate = excluded.size_estimate, attachments = excluded.attachments,
		    synced_at = now(), updated_at = now()
		where coalesce(m.gmail_history_id, 0) <= coalesce(excluded.gmail_history_id, 0)
		returning m.thread_id
	)
	select count(*), coalesce(array_agg(distinct w.thread_id), '{}')
	into written, threads from w;
end
$$;

-- Upserts a set of decoded messages (lib/mail/decode's rows), their
-- threads first.  Returns the ids of the threads touched.
create or replace function rally.mail_upsert_messages(p_tenant uuid, p_conn uuid,
    p_user uuid, p_rows jsonb, out written int, out threads uuid[])
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
declare
	v_gmail_threads text[];
	v_threads uuid[];
begin
	create temp table if not exists mail_batch_rows (
		gmail_id text not null, thread_id text not null, history_id numeric,
		internal_date_ms bigint, size_estimate int, label_ids text[], snippet text,
		message_id text, in_reply_to text, "references" text, subject text,
		"from" text, reply_to text, "to" text[], cc text[], bcc text[],
		body_text text, body_html text, attachments jsonb
	) on commit delete rows;
	delete from pg_temp.mail_batch_rows;
	-- The same message twice in one batch: its newest state wins.
	insert into pg_temp.mail_batch_rows
	select (d.r).* from (
		select distinct on (e.j->>'gmail_id')
		    jsonb_populate_record(null::pg_temp.mail_batch_rows, e.j) r
		from jsonb_array_elements(p_rows) with ordinality e(j, ord)
		order by e.j->>'gmail_id', (e.j->>'history_id')::numeric desc nulls last, e.ord desc
		offset 0) d;

	perform rally.mail_insert_threads(p_tenant, p_conn, p_user);
	perform rally.mail_tables_ensure_stats();
	-- The threads' ids, found by key while plans are made per call.
	select array_agg(x.gmail_thread_id), array_agg(x.id) into v_gmail_threads, v_threads
	from (select distinct r.thread_id from pg_temp.mail_batch_rows r) r
	cross join lateral (select x.gmail_thread_id, x.id from rally.mail_threads x
	    where x.tenant_id = p_tenant and x.connection_id = p_conn
	        and x.gmail_thread_id = r.thread_id offset 0) x;
	select i.written, i.threads into written, threads
	from rally.mail_insert_rows(p_tenant, p_conn, p_user, v_gmail_threads, v_threads) i;
end
$$;

-- The label states a history page reported, [{"id", "label_ids",
-- "history_id"}]: each applied only over an older state.
create or replace function rally.mail_set_labels(p_tenant uuid, p_conn uuid, p_labels jsonb,
    out written int, out threads uuid[])
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
begin
	with l as (
		select distinct on (x.id) x.id, x.label_ids, x.history_id
		from jsonb_to_recordset(p_labels) x(id text, label_ids text[], history_id numeric)
		order by x.id, x.history_id desc
	), w as (
		update rally.mail_messages m set label_ids = coalesce(l.label_ids, '{}'),
		    gmail_history_id = l.history_id, updated_at = now()
		from l
		where m.tenant_id = p_tenant and m.connection_id = p_conn and m.gmail_id = l.id
		    and coalesce(m.gmail_history_id, 0) < l.history_id
		returning m.thread_id
	)
	select count(*), coalesce(array_agg(distinct w.thread_id), '{}')
	into written, threads from w;
end
$$;

-- Applies one batch of a mail sync in the caller's transaction:
--   messages      decoded rows to store (mail_upsert_messages)
--   labels        label states from history (mail_set_labels)
--   deleted       Gmail ids gone at Gmail
--   skipped       {"reason": n}: messages not stored, added to sync_state.skipped
--   full_started  the start of the full sync this batch belongs to, if any
--   page_token    full sync: the messages.list page to resume from once
--                 this batch is committed
--   history_id    incremental: the history id this batch completes
--   done          the last batch: a full sync removes what it did not see
--                 and hands over to history; an incremental one stores
--                 history_id
-- A batch of a full sync that is no longer the current one (another
-- started since) changes nothing: {"stale": true}.  A connection with
-- mail off or revoked: {"gone": true}.
create or replace function rally.mail_apply_batch(p_tenant uuid, p_conn uuid, p_batch jsonb)
returns jsonb
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
declare
	v_user uuid;
	v_state record;
	v_full timestamptz := (p_batch->>'full_started')::timestamptz;
	v_done boolean := coalesce((p_batch->>'done')::boolean, false);
	v_threads uuid[] := '{}';
	v_t uuid[];
	n_written int := 0;
	n_labels int := 0;
	n_deleted int := 0;
	n_swept int := 0;
	k int;
	v_skipped jsonb := coalesce(p_batch->'skipped', '{}');
begin
	select user_id into v_user from rally.google_connections
	where tenant_id = p_tenant and id = p_conn and status = 'active' and mail_enabled
	for share;
	if v_user is null then
		return jsonb_build_object('gone', true);
	end if;
	select * into v_state from rally.sync_state
	where tenant_id = p_tenant and connection_id = p_conn and resource = 'mail'
	for update;
	if not found or (v_full is not null
	    and v_state.full_sync_started_at is distinct from v_full) then
		return jsonb_build_object('stale', true);
	end if;
	if jsonb_typeof(v_skipped) <> 'object' then
		raise exception 'skipped is not an object' using errcode = '22023';
	end if;

	if jsonb_array_length(coalesce(p_batch->'messages', '[]')) > 0 then
		select written, threads into n_written, v_t
		from rally.mail_upsert_messages(p_tenant, p_conn, v_user, p_batch->'messages');
		v_threads := v_threads || v_t;
	end if;
	if jsonb_array_length(coalesce(p_batch->'labels', '[]')) > 0 then
		select written, threads into n_labels, v_t
		from rally.mail_set_labels(p_tenant, p_conn, p_batch->'labels');
		v_threads := v_threads || v_t;
	end if;
	if jsonb_array_length(coalesce(p_batch->'deleted', '[]')) > 0 then
		with d as (
			delete from rally.mail_messages m
			where m.tenant_id = p_tenant and m.connection_id = p_conn
			    and m.gmail_id = any (array(select jsonb_array_elements_text(
			        p_batch->'deleted')))
			returning m.thread_id
		)
		select count(*), coalesce(array_agg(distinct d.thread_id), '{}')
		into n_deleted, v_t from d;
		v_threads := v_threads || v_t;
	end if;
	if v_done and v_full is not null then
		-- What the listing did not bring is gone at Gmail, unless history
		-- since the listing began has news of it.
		with d as (
			delete from rally.mail_messages m
			where m.tenant_id = p_tenant and m.connection_id = p_conn
			    and m.synced_at < v_full
			    and coalesce(m.gmail_history_id, 0)
			        <= coalesce(v_state.full_sync_history_id, 0)
			returning m.thread_id
		)
		select count(*), coalesce(array_agg(distinct d.thread_id), '{}')
		into n_swept, v_t from d;
		v_threads := v_threads || v_t;
	end if;
	if cardinality(v_threads) > 0 then
		perform rally.mail_threads_refresh(p_tenant,
		    array(select distinct unnest(v_threads)));
	end if;

	update rally.sync_state s set
	    full_sync_page_token = case when v_full is null then s.full_sync_page_token
	        when v_done then null
	        else coalesce(p_batch->>'page_token', s.full_sync_page_token) end,
	    gmail_history_id = case
	        when v_done and v_full is not null then s.full_sync_history_id
	        when v_done and not s.full_sync_required and p_batch ? 'history_id'
	            then greatest(coalesce(s.gmail_history_id, 0),
	                (p_batch->>'history_id')::numeric)
	        else s.gmail_history_id end,
	    full_sync_required = case when v_done and v_full is not null then false
	        else s.full_sync_required end,
	    full_sync_started_at = case when v_done and v_full is not null then null
	        else s.full_sync_started_at end,
	    last_full_sync_at = case when v_done and v_full is not null then now()
	        else s.last_full_sync_at end,
	    last_sync_at = now(),
	    last_success_at = case when v_done then now() else s.last_success_at end,
	    lag_seconds = case when v_done then 0 else s.lag_seconds end,
	    skipped = (select coalesce(jsonb_object_agg(k2,
	            coalesce((s.skipped->>k2)::bigint, 0) + coalesce((v_skipped->>k2)::bigint, 0)),
	            '{}')
	        from (select jsonb_object_keys(s.skipped || v_skipped) k2) ks),
	    last_error = null, last_error_kind = null, consecutive_errors = 0,
	    updated_at = now()
	where s.tenant_id = p_tenant and s.connection_id = p_conn and s.resource = 'mail';
	if v_done then
		update rally.sync_state s set item_count = (select count(*) from rally.mail_messages m
		    where m.tenant_id = p_tenant and m.connection_id = p_conn)
		where s.tenant_id = p_tenant and s.connection_id = p_conn and s.resource = 'mail';
	end if;
	return jsonb_build_object('written', n_written, 'labels', n_labels,
	    'deleted', n_deleted, 'swept', n_swept);
end
$$;

-- p_kind ('mailsend' or 'maillabel') for each active mail connection with
-- rows of that kind waiting (outbox rows queued or sending, label ops
-- pending) and no job of the kind that is to run, runs, or failed within
-- 15 minutes.
create or replace function rally.mail_queue_waiting(p_kind text)
returns int
language sql
as $$
	select count(rally.job_enqueue(w.tenant_id, p_kind, w.connection_id::text,
	        jsonb_build_object('connection_id', w.connection_id)))::int
	from (select distinct o.tenant_id, o.connection_id, o.user_id from rally.mail_outbox o
	        where p_kind = 'mailsend' and o.state in ('queued', 'sending')
	    union
	    select distinct l.tenant_id, l.connection_id, l.user_id from rally.mail_label_ops l
	        where p_kind = 'maillabel' and l.state = 'pending') w
	-- Rows the jobs take (mail_outbox_next, mail_label_ops_due): of the
	-- connection's own user.  Another row would never be taken, its job
	-- would end done, and the next tick would queue one again.
	join rally.google_connections c on c.tenant_id = w.tenant_id and c.id = w.connection_id
	    and c.user_id = w.user_id
	where c.status = 'active' and c.mail_enabled
	    and not exists (select 1 from rally.jobs j
	        where j.tenant_id = w.tenant_id and j.kind = p_kind
	            and j.dedupe_key = w.connection_id::text
	            and (j.state in ('pending', 'running')
	                or (j.state = 'failed' and j.finished_at > now() - interval '15 minutes')))
$$;

-- The scheduler's tick: a mailsync for each active mail connection not
-- synced within p_poll seconds (push, when it works, syncs sooner); with
-- p_watch a mailwatch for each whose Gmail watch is missing or was last
-- renewed more than a day ago (a watch lasts 7 days); and a
-- mailreconcile for each not compared with Gmail within p_reconcile
-- seconds (0: never).  And the mail the CRM still has to send or label:
-- a new row queues its job, but a job that used up its attempts (an
-- outage longer than its backoff) left the rows waiting until the next
-- row came; they are taken up again 15 minutes after it failed.
create or replace function rally.mail_queue_periodic(p_poll int, p_watch boolean,
    p_reconcile int)
returns int
language sql
as $$
	select (select count(rally.job_enqueue(s.tenant_id, 'mailsync', s.connection_id::text,
	        jsonb_build_object('connection_id', s.connection_id, 'reason', 'poll')))::int
	    from rally.sync_state s
	    join rally.google_connections c on c.tenant_id = s.tenant_id and c.id = s.connection_id
	    where s.resource = 'mail' and c.status = 'active' and c.mail_enabled
	        and (s.last_sync_at is null
	            or s.last_sync_at < now() - make_interval(secs => p_poll))
	        and not exists (select 1 from rally.jobs j
	            where j.tenant_id = s.tenant_id and j.kind = 'mailsync'
	                and j.dedupe_key = s.connection_id::text and j.state = 'pending'))
	    + (select count(rally.job_enqueue(s.tenant_id, 'mailwatch', s.connection_id::text,
	        jsonb_build_object('connection_id', s.connection_id)))::int
	    from rally.sync_state s
	    join rally.google_connections c on c.tenant_id = s.tenant_id and c.id = s.connection_id
	    where p_watch and s.resource = 'mail' and c.status = 'active' and c.mail_enabled
	        and (s.channel_expires_at is null
	            or s.channel_expires_at < now() + interval '6 days')
	        and not exists (select 1 from rally.jobs j
	            where j.tenant_id = s.tenant_id and j.kind = 'mailwatch'
	                and j.dedupe_key = s.connection_id::text
	                and j.state in ('pending', 'running')))
	    + (select count(rally.job_enqueue(s.tenant_id, 'mailreconcile', s.connection_id::text,
	        jsonb_build_object('connection_id', s.connection_id)))::int
	    from rally.sync_state s
	    join rally.google_connections c on c.tenant_id = s.tenant_id and c.id = s.connection_id
	    where p_reconcile > 0 and s.resource = 'mail' and c.status = 'active'
	        and c.mail_enabled and not s.full_sync_required
	        and coalesce(s.last_reconcile_at, s.last_full_sync_at, '-infinity')
	            < now() - make_interval(secs => p_reconcile)
	        and not exists (select 1 from rally.jobs j
	            where j.tenant_id = s.tenant_id and j.kind = 'mailreconcile'
	                and j.dedupe_key = s.connection_id::text
	                and j.state in ('pending', 'running')))
	    + rally.mail_queue_waiting('mailsend')
	    + rally.mail_queue_waiting('maillabel')
$$;


grant execute on function rally.mail_start_full(uuid, uuid, numeric),
    rally.mail_sender_name(text, text),
    rally.mail_unknown_ids(uuid, uuid, text[]),
    rally.mail_threads_refresh(uuid, uuid[]),
    rally.mail_upsert_messages(uuid, uuid, uuid, jsonb),
    rally.mail_insert_rows(uuid, uuid, uuid, text[], uuid[]),
    rally.mail_tables_ensure_stats(),
    rally.mail_insert_threads(uuid, uuid, uuid),
    rally.mail_set_labels(uuid, uuid, jsonb),
    rally.mail_apply_batch(uuid, uuid, jsonb), rally.mail_queue_periodic(int, boolean, int),
    rally.mail_queue_waiting(text)
    to rally_daemon;

-- Reconcile (daemon/job-mailreconcile.c): Gmail's listing of the window,
-- page by page, compared with the stored messages.  Each page marks what
-- is stored as seen and returns the ids that are missing here, which the
-- daemon fetches; the end removes what the listing did not bring.
create or replace function rally.mail_reconcile_start(p_tenant uuid, p_conn uuid,
    out started timestamptz, out history_id numeric)
language sql stable
as $$
	select now(), s.gmail_history_id from rally.sync_state s
	join rally.google_connections c on c.tenant_id = s.tenant_id and c.id = s.connection_id
	where s.tenant_id = p_tenant and s.connection_id = p_conn and s.resource = 'mail'
	    and c.status = 'active' and c.mail_enabled and not s.full_sync_required
	    and s.gmail_history_id is not null
$$;

create or replace function rally.mail_reconcile_page(p_tenant uuid, p_conn uuid, p_ids jsonb)
returns jsonb
language plpgsql
set plan_cache_mode = force_custom_plan
as $$
declare
	v_ids text[] := array(select jsonb_array_elements_text(p_ids));
begin
	update rally.mail_messages m set synced_at = now()
	where m.tenant_id = p_tenant and m.connection_id = p_conn and m.gmail_id = any (v_ids);
	return to_jsonb(rally.mail_unknown_ids(p_tenant, p_conn, v_ids));
end
$$;

-- The end of a reconcile begun at p_started when the mailbox's history
-- id was p_history_id: a message of the window (internal date within
-- p_window seconds) that the listing did not bring and that history has
-- no newer news of is gone at Gmail, and goes here.  Older mail, which
-- the listing does not reach, is left alone.  Returns how many went.
create or replace function rally.mail_reconcile_end(p_tenant uuid, p_conn uuid,
    p_started timestamptz, p_history_id numeric, p_window int)
returns int
language plpgsql
as $$
declare
	v_threads uuid[];
	n int;
begin
	with d as (
		delete from rally.mail_messages m
		where m.tenant_id = p_tenant and m.connection_id = p_conn
		    and m.synced_at < p_started
		    and m.internal_date >= p_started - make_interval(secs => p_window)
		    and coalesce(m.gmail_history_id, 0) <= p_history_id
		returning m.thread_id
	)
	select count(*), coalesce(array_agg(distinct d.thread_id), '{}') into n, v_threads from d;
	if n > 0 then
		perform rally.mail_threads_refresh(p_tenant, v_threads);
	end if;
	update rally.sync_state set last_reconcile_at = now(), updated_at = now()
	where tenant_id = p_tenant and connection_id = p_conn and resource = 'mail';
	return n;
end
$$;

grant execute on function rally.mail_reconcile_start(uuid, uuid),
    rally.mail_reconcile_page(uuid, uuid, jsonb),
    rally.mail_reconcile_end(uuid, uuid, timestamptz, numeric, int)
    to rally_daemon;
