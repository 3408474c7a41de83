/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup-copy.h"
#include "backup-readback.h"
#include "backup-run.h"
#include "cancel.h"
#include "db.h"
#include "dumpcount.h"
#include "pgtool.h"

#define SYSTEM_TENANT "'00000000-0000-0000-0000-000000000000'"
#define BACKUP_PROGRESS_EVERY (4 * 1024 * 1024)

/* Records of backups whose process died are failed, not running. */
#define BACKUP_SQL_SWEEP \
	"UPDATE rally.backups SET status = 'failed', finished_at = now()," \
	" error = 'interrupted: the process making it stopped before the end'" \
	" WHERE tenant_id = " SYSTEM_TENANT " AND status = 'running'"
/* $1 file name, $2 instance. */
#define BACKUP_SQL_START \
	"INSERT INTO rally.backups (file_name, instance) VALUES ($1, $2)" \
	" RETURNING id"
/* $1 id, $2 size, $3 sha256 hex, $4 key id, $5 dump bytes, $6 row counts. */
#define BACKUP_SQL_COMPLETE \
	"UPDATE rally.backups SET status = 'complete', size_bytes = $2," \
	" sha256 = decode($3, 'hex'), key_id = $4, plain_bytes = $5," \
	" row_counts = $6::jsonb, finished_at = now(), verified_at = now()" \
	" WHERE tenant_id = " SYSTEM_TENANT " AND id = $1"
/* $1 id, $2 error. */
#define BACKUP_SQL_FAILED \
	"UPDATE rally.backups SET status = 'failed', finished_at = now()," \
	" error = left($2, 2000) WHERE tenant_id = " SYSTEM_TENANT \
	" AND id = $1 AND status = 'running'"
/* $1 file names deleted, $2 retention in seconds. */
#define BACKUP_SQL_PRUNED \
	"UPDATE rally.backups SET status = 'pruned', pruned_at = now()" \
	" WHERE tenant_id = " SYSTEM_TENANT " AND status = 'complete'" \
	" AND (file_name = ANY ($1::text[])" \
	"  OR started_at < now() - make_interval(secs => $2::int))"

struct run {
	const struct backup_opts *o;
	struct backup_result *res;
	PGconn *db;
	struct backup_file file;
	struct backup_copy *copy;
	/* pg_dump for what comes before the table data, the rest, after it. */
	struct pgtool dump[2];
	char *dump_snapshot, *dump_encoding, *dump_lock_wait;	/* arguments */
	struct backup_writer *w;
	struct readback *rb;
	struct dumpcount dc;
	uint64_t next_progress;
	bool recorded;
};

/* 1 locked, 0 another backup holds the lock, -1 error. */
static int
run_lock(struct run *r, char **cause)
{
	PGresult *res;
	int locked;

	if ((r->db = db_connect(conf_backup_conninfo(r->o->conf), cause)) == NULL)
		return -1;
	res = db_exec(r->db, "SELECT pg_try_advisory_lock(" BACKUP_LOCK_KEY ")",
	    0, NULL, cause);
	if (res == NULL)
		return -1;
	locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!locked)
		set_cause(cause, "another backup is running (it holds the "
		    "backup lock)");
	return locked;
}

/* Under the lock: what a killed backup left behind goes. */
static int
run_sweep(struct run *r, char **cause)
{
	char **names;

	if (db_command(r->db, BACKUP_SQL_SWEEP, 0, NULL, cause) == -1)
		return -1;
	/* A cutoff of 0 deletes no backup, only temporary files. */
	if (backup_dir_prune(r->o->conf->backup_dir, 0, &names, cause) == -1)
		return -1;
	for (char **n = names; *n != NULL; n++)
		free(*n);
	free(names);
	return 0;
}

static int
run_record(struct run *r, char **cause)
{
	const char *params[2];
	PGresult *res;

	backup_file_name(r->res->name);
	params[0] = r->res->name;
	params[1] = r->o->instance;
	if ((res = db_exec(r->db, BACKUP_SQL_START, 2, params, cause)) == NULL)
		return -1;
	snprintf(r->res->id, sizeof r->res->id, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	r->recorded = true;
	return 0;
}

/*
 * What of pg_dump's plain SQL is not table data or a sequence's value
 * comes from two pg_dumps in the snapshot the table data is read in, in
 * the dump's encoding: what comes before the data (the tables, the
 * functions, ...), then the rest (large objects, then indexes,
 * constraints, triggers, policies).  The second starts when the first
 * has ended, and waits on its pipe until the table data is written: the
 * first is all the backup can do until it ends, and it ends sooner alone
 * (0.11 s against 0.16 s beside the others, on two cores).  Its locks,
 * taken later, are bounded by the same lock wait as the first's.
 */
#define DUMP_ARGS 4
static const char *const dump_sections[2][DUMP_ARGS] = {
	{ "--section=pre-data", NULL },
	{ "--section=data", "--section=post-data", "--exclude-table-data=*.*",
	  NULL },
};

static int
run_start_pg_dump(struct run *r, int i, char **cause)
{
	/* Room for a full row of sections and the NULL after it. */
	char *argv[7 + DUMP_ARGS + 1] = { r->o->conf->backup_pg_dump,
		"--format=plain", "--no-password", "--enable-row-security",
		r->dump_snapshot, r->dump_encoding, r->dump_lock_wait };
	int n = 7;

	for (int k = 0; k < DUMP_ARGS && dump_sections[i][k] != NULL; k++)
		argv[n++] = (char *)dump_sections[i][k];
	argv[n] = NULL;
	if (pgtool_start(&r->dump[i], r->o->conf->backup_pg_dump, argv,
	    conf_backup_conninfo(r->o->conf), NULL, PGTOOL_READ_STDOUT,
	    cause) == -1)
		return -1;
	pgtool_watch(&r->dump[i], r->o->cancel);
	return 0;
}

/* The file, its writer and read-back, the snapshot; the first pg_dump. */
static int
run_start_dump(struct run *r, char **cause)
{
	if (backup_file_create(&r->file, r->o->conf->backup_dir, r->res->name,
	    cause) == -1)
		return -1;
	r->rb = readback_start(r->file.fd, r->file.tmp_path, r->o->kr, cause);
	if (r->rb == NULL)
		return -1;
	r->w = backup_writer_new(r->o->kr, BACKUP_DEFAULT_CHUNK,
	    (int)r->o->conf->backup_zstd_level, backup_file_sink, &r->file,
	    cause);
	if (r->w == NULL)
		return -1;
	r->res->key_id = backup_writer_key_id(r->w);
	r->copy = backup_copy_begin(conf_backup_conninfo(r->o->conf),
	    r->o->conf->backup_lock_wait_sec, r->o->cancel, cause);
	if (r->copy == NULL)
		return -1;
	r->dump_snapshot = xasprintf("--snapshot=%s",
	    backup_copy_snapshot(r->copy));
	r->dump_encoding = xasprintf("--encoding=%s",
	    backup_copy_encoding(r->copy));
	r->dump_lock_wait = xasprintf("--lock-wait-timeout=%llds",
	    (long long)r->o->conf->backup_lock_wait_sec);
	return run_start_pg_dump(r, 0, cause);
}

/* A piece of the dump: counted, compressed and sealed, followed back. */
static int
run_feed(void *arg, const char *buf, size_t n, char **cause)
{
	struct run *r = arg;

	if (cancel_requested(r->o->cancel))
		return set_cause(cause, "cancelled");
	dumpcount_feed(&r->dc, buf, n);
	r->res->plain_bytes += (uint64_t)n;
	if (backup_writer_write(r->w, buf, n, cause) == -1)
		return -1;
	readback_advance(r->rb, r->file.size);
	if (readback_check(r->rb, cause) == -1)
		return -1;
	if (r->o->progress != NULL && r->res->plain_bytes >= r->next_progress) {
		r->o->progress(r->o->progress_arg, r->res->plain_bytes,
		    r->file.size);
		r->next_progress += BACKUP_PROGRESS_EVERY;
	}
	return 0;
}

/* One pg_dump's output through run_feed, to its end and its exit. */
static int
run_pump(struct run *r, struct pgtool *dump, char **cause)
{
	char *buf = xmalloc(BACKUP_IO_SIZE);
	ssize_t n;
	int rc = 0;

	while (rc == 0) {
		if ((n = read(dump->fd, buf, BACKUP_IO_SIZE)) == -1) {
			if (errno != EINTR)
				rc = set_cause(cause, "reading pg_dump: %s",
				    strerror(errno));
			continue;
		}
		if (n == 0)
			break;
		rc = run_feed(r, buf, (size_t)n, cause);
	}
	free(buf);
	return rc == 0 ? pgtool_wait(dump, cause) : -1;
}

static int
run_dump(struct run *r, char **cause)
{
	uint64_t t0 = now_usec();

	r->next_progress = BACKUP_PROGRESS_EVERY;
	if (run_start_dump(r, cause) == -1 ||
	    run_pump(r, &r->dump[0], cause) == -1 ||
	    run_start_pg_dump(r, 1, cause) == -1 ||
	    backup_copy_tables(r->copy, run_feed, r, cause) == -1 ||
	    run_pump(r, &r->dump[1], cause) == -1)
		return -1;
	backup_copy_end(r->copy);
	r->copy = NULL;
	if (backup_writer_finish(r->w, cause) == -1)
		return -1;
	r->res->size = r->file.size;
	r->res->dump_seconds = (double)(now_usec() - t0) / 1e6;
	return 0;
}

/*
 * The file read back as verify reads it, before it takes its name: every
 * chunk opened and decompressed, its length and the dump's those written.
 * Most of it was read during the dump, at the lowest priority
 * (lib/backup-readback.h); the rest is read here.  The SHA-256 recorded
 * is taken over the bytes as read back: the one hash of the file.  Only
 * then is the file synced and renamed, so a backup that does not read
 * back, or whose process dies before it is proven, is never visible.
 */
static int
run_verify(struct run *r, char **cause)
{
	struct backup_reader_stats st;
	unsigned char sha[32];
	uint64_t t0 = now_usec();
	int rc;

	rc = readback_finish(r->rb, r->file.size, &st, sha, cause);
	r->rb = NULL;
	if (rc == -1)
		return -1;
	if (st.file_bytes != r->res->size ||
	    st.plain_bytes != r->res->plain_bytes)
		return set_cause(cause, "%s: the file read back is not the one "
		    "written (%llu bytes of file, %llu of dump; %llu and %llu "
		    "written)", r->file.tmp_path,
		    (unsigned long long)st.file_bytes,
		    (unsigned long long)st.plain_bytes,
		    (unsigned long long)r->res->size,
		    (unsigned long long)r->res->plain_bytes);
	hex_encode(sha, sizeof sha, r->res->sha256);
	r->res->chunks = st.chunks;
	r->res->verify_seconds = (double)(now_usec() - t0) / 1e6;
	return 0;
}

static int
run_complete(struct run *r, char **cause)
{
	char size[24], plain[24], kid[16];
	const char *params[] = { r->res->id, size, r->res->sha256, kid, plain,
		json_object_to_json_string_ext(dumpcount_tables(&r->dc),
		    JSON_C_TO_STRING_PLAIN) };

	snprintf(size, sizeof size, "%llu", (unsigned long long)r->res->size);
	snprintf(plain, sizeof plain, "%llu",
	    (unsigned long long)r->res->plain_bytes);
	snprintf(kid, sizeof kid, "%u", r->res->key_id);
	if (db_command(r->db, BACKUP_SQL_COMPLETE, 6, params, cause) == -1)
		return -1;
	r->res->row_counts = json_object_get(dumpcount_tables(&r->dc));
	return 0;
}

/* "{a,b}" of names made only of [0-9A-Za-z.]: no quoting needed. */
static char *
text_array(char **names)
{
	char *s = xstrdup("{"), *t;

	for (char **n = names; *n != NULL; n++) {
		t = xasprintf("%s%s%s", s, n == names ? "" : ",", *n);
		free(s);
		s = t;
	}
	t = xasprintf("%s}", s);
	free(s);
	return t;
}

static int
run_retention(struct run *r, char **cause)
{
	time_t cutoff = time(NULL) - (time_t)r->o->conf->backup_retention_sec;
	char **names, *array, secs[24];
	const char *params[2];
	int rc;

	if (backup_dir_prune(r->o->conf->backup_dir, cutoff, &names,
	    cause) == -1)
		return -1;
	array = text_array(names);
	snprintf(secs, sizeof secs, "%lld",
	    (long long)r->o->conf->backup_retention_sec);
	params[0] = array;
	params[1] = secs;
	rc = db_command(r->db, BACKUP_SQL_PRUNED, 2, params, cause);
	for (char **n = names; *n != NULL; n++, r->res->pruned++)
		free(*n);
	free(names);
	free(array);
	return rc;
}

/* pg_dump, the COPY and the read-back stopped, whatever they were doing. */
static void
run_stop(struct run *r)
{
	for (size_t i = 0; i < nitems(r->dump); i++)
		pgtool_abort(&r->dump[i]);
	backup_copy_end(r->copy);
	r->copy = NULL;
	readback_abort(r->rb);
	r->rb = NULL;
}

static void
run_failed(struct run *r, const char *why)
{
	const char *params[] = { r->res->id, why };
	char *ignored = NULL;

	run_stop(r);
	backup_file_discard(&r->file);
	if (r->recorded && r->db != NULL &&
	    db_command(r->db, BACKUP_SQL_FAILED, 2, params, &ignored) == -1)
		free(ignored);
}

static enum backup_status
run_locked(struct run *r, char **cause)
{
	if (run_sweep(r, cause) == -1 || run_record(r, cause) == -1)
		return BACKUP_FAILED;
	if (run_dump(r, cause) == -1 || run_verify(r, cause) == -1 ||
	    backup_file_commit(&r->file, cause) == -1 ||
	    run_complete(r, cause) == -1) {
		if (cancel_requested(r->o->cancel)) {
			/* Whatever the step it stopped made of it. */
			free(*cause);
			*cause = xstrdup("cancelled");
		}
		run_failed(r, *cause);
		return BACKUP_FAILED;
	}
	if (run_retention(r, cause) == -1)
		return BACKUP_FAILED;
	return BACKUP_OK;
}

enum backup_status
backup_run(const struct backup_opts *o, struct backup_result *res,
    char **cause)
{
	struct run r = { .o = o, .res = res };
	uint64_t t0 = now_usec();
	int locked;

	memset(res, 0, sizeof *res);
	r.file.fd = -1;
	for (size_t i = 0; i < nitems(r.dump); i++)
		r.dump[i].fd = -1;
	dumpcount_init(&r.dc);
	if ((locked = run_lock(&r, cause)) == 1)
		res->status = run_locked(&r, cause);
	else
		res->status = locked == 0 ? BACKUP_BUSY : BACKUP_FAILED;
	run_stop(&r);
	backup_file_clear(&r.file);
	backup_writer_free(r.w);
	dumpcount_clear(&r.dc);
	free(r.dump_snapshot);
	free(r.dump_encoding);
	free(r.dump_lock_wait);
	db_close(r.db);		/* releases the lock */
	res->seconds = (double)(now_usec() - t0) / 1e6;
	return res->status;
}

void
backup_result_clear(struct backup_result *res)
{
	json_object_put(res->row_counts);
	memset(res, 0, sizeof *res);
}
