-- SPDX-License-Identifier: ISC
-- What a backup records beyond its file (docs/backup-format.md,
-- docs/operations.md "Backups"): the row counts of pg_dump's snapshot, so a
-- restore can be checked against them; the size of the dump before
-- compression; the result of the weekly restore check.
set local role rally_owner;

alter table rally.backups
    add column plain_bytes bigint check (plain_bytes >= 0),
    add column row_counts jsonb check (row_counts is null or jsonb_typeof(row_counts) = 'object'),
    add column restore_checked_at timestamptz,
    add column restore_check text check (restore_check in ('ok', 'failed')),
    add column restore_error text check (length(restore_error) <= 2000);

create index backups_complete on rally.backups (started_at desc) where status = 'complete';
