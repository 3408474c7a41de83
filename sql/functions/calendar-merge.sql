-- SPDX-License-Identifier: ISC
-- Calendar: the three-way merge of an event into an activity that has
-- unsent CRM edits (docs/calendar-sync.md, "Conflicts").  First defined in
-- migration 0010; these supersede it.
set local role rally_owner;

-- Per field, a side that did not move from the snapshot yields to the one
-- that did; when both moved, the later change wins and the loss is
-- recorded.  An activity deleted in the CRM stays 'pending' whatever the
-- merge gives: its push is the deletion, still to be sent.  Returns the
-- number of conflicting fields.  The event comes as what the merge reads
-- of it: its canonical fields (remote), its etag, updated, sequence and
-- id, so that a page applied from columns (rally.cal_apply_filled) merges
-- from those; rally.cal_merge takes an event.
create or replace function rally.cal_merge_fields(a rally.activities, remote jsonb,
    e_etag text, e_updated text, e_sequence text, e_id text) returns int
language plpgsql
as $$
declare
	loc jsonb := rally.cal_fields(a);
	-- A synced row without a snapshot is its own base (a sync wrote
	-- it, and no CRM edit has moved it since); a row never synced has
	-- none, and Google's side is taken as the base.
	base jsonb := coalesce(a.synced_snapshot,
	    case when a.sync_state = 'synced' then loc end, remote);
	merged jsonb := '{}';
	k text;
	winner text;
	conflicts int := 0;
	remote_updated timestamptz := e_updated::timestamptz;
begin
	for k in select jsonb_object_keys(remote) loop
		if (loc->k) is not distinct from (base->k) then
			merged := merged || jsonb_build_object(k, remote->k);
		elsif (remote->k) is not distinct from (base->k)
		    or (remote->k) is not distinct from (loc->k) then
			merged := merged || jsonb_build_object(k, loc->k);
		else
			winner := case when a.updated_at > coalesce(remote_updated, '-infinity')
			    then 'local' else 'remote' end;
			insert into rally.merge_conflicts (tenant_id, activity_id, owner_id,
			    field, base_value, local_value, remote_value, winner,
			    local_updated, remote_updated)
			values (a.tenant_id, a.id, a.owner_id, k, base->k, loc->k, remote->k,
			    winner, a.updated_at, remote_updated);
			merged := merged || jsonb_build_object(k,
			    case when winner = 'local' then loc->k else remote->k end);
			conflicts := conflicts + 1;
		end if;
	end loop;
	perform rally.cal_set_fields(a.tenant_id, a.id, merged);
	update rally.activities set etag = e_etag, google_updated = remote_updated,
	    sequence = e_sequence::int, synced_snapshot = remote,
	    google_event_id = e_id, google_seen_at = now(),
	    sync_state = case when merged = remote and a.deleted_at is null
	        then 'synced' else 'pending' end
	where tenant_id = a.tenant_id and id = a.id;
	if merged <> remote or a.deleted_at is not null then
		perform rally.cal_queue_push(a.tenant_id, a.id);
	end if;
	return conflicts;
end
$$;

create or replace function rally.cal_merge(a rally.activities, e jsonb) returns int
language sql
as $$
	select rally.cal_merge_fields(a, rally.cal_fields_from_event(e), e->>'etag',
	    e->>'updated', e->>'sequence', e->>'id')
$$;

-- A 412 on push: merge Google's current event, then say whether a push is
-- still needed ('pending') or not ('synced').  A sync may have merged a
-- newer version of the event since the push fetched this one: an older
-- copy is nothing new, so it is not merged again (that would record the
-- same conflict twice, against a stale value).  An event deleted at
-- Google removes the activity: the deletion wins over the CRM's edit.
create or replace function rally.cal_merge_remote(p_tenant uuid, p_id uuid, e jsonb) returns text
language plpgsql
as $$
declare
	a rally.activities;
begin
	perform pg_catalog.set_config('rally.origin', 'google', true);
	select * into a from rally.activities where tenant_id = p_tenant and id = p_id for update;
	if a.id is null then
		return 'gone';
	end if;
	if rally.cal_event_deleted(e) then
		delete from rally.activities where tenant_id = p_tenant and id = p_id;
		return 'gone';
	end if;
	if a.google_updated > (e->>'updated')::timestamptz then
		return a.sync_state;
	end if;
	perform rally.cal_merge(a, e);
	return (select sync_state from rally.activities where tenant_id = p_tenant and id = p_id);
end
$$;

grant execute on function rally.cal_merge(rally.activities, jsonb),
    rally.cal_merge_fields(rally.activities, jsonb, text, text, text, text),
    rally.cal_merge_remote(uuid, uuid, jsonb) to rally_daemon;
