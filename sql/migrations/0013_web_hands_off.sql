-- The web tier no longer queues jobs itself (a job names a connection and
-- a Google event, and rally_web could name a colleague's): it asks through
-- the rally.web_* functions of sql/functions/web.sql, which derive every
-- payload from rows the caller owns.  And a deleted activity leaves a
-- tombstone, so the deletion at Google is driven by a row the DELETE
-- trigger wrote rather than by whatever a job's payload claims.
set local role rally_owner;

drop policy web_insert on rally.jobs;
revoke insert on rally.jobs from rally_web;

-- What rallyd still has to delete at Google after an activity was deleted
-- in the CRM: written by the activities DELETE trigger (as rally_owner),
-- read and removed only by the daemon's calpush.  The connection and the
-- owner come from the deleted row, and the foreign key keeps them a pair;
-- a connection that goes takes its tombstones with it (its events are no
-- longer Rally's to delete).
create table rally.activity_tombstones (
	tenant_id uuid not null,
	activity_id uuid not null,
	connection_id uuid not null,
	owner_id uuid not null,
	google_event_id text not null check (length(google_event_id) between 1 and 1024),
	deleted_at timestamptz not null default now(),
	primary key (tenant_id, activity_id),
	foreign key (tenant_id, connection_id, owner_id)
	    references rally.google_connections (tenant_id, id, user_id) on delete cascade
);
create index activity_tombstones_connection on rally.activity_tombstones (tenant_id, connection_id);

select rally.secure_table('rally.activity_tombstones');
grant select, insert, delete on rally.activity_tombstones to rally_daemon;
