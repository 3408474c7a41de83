-- SPDX-License-Identifier: ISC
-- Message bodies compressed with lz4 instead of pglz when PostgreSQL stores
-- them out of line (over about 2 kB): a 6 kB HTML body costs a fifth of the
-- CPU to compress (0.10 s instead of 0.48 s for 6,000 of them), for a
-- larger table (about twice on repetitive text).  The CPU of a first sync
-- is the target (docs/mail-sync.md, "Cost"); disk is cheaper.  Only values
-- written from now on use it: the rows already stored keep pglz, which
-- PostgreSQL reads as before.  A server built without lz4 keeps pglz.
set local role rally_owner;

do $$
begin
	alter table rally.mail_messages alter column body_text set compression lz4,
	    alter column body_html set compression lz4;
exception when feature_not_supported then
	raise notice 'this PostgreSQL has no lz4: mail bodies stay compressed with pglz';
end
$$;
