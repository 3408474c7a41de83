/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "db-mask.h"
#include "log.h"
#include "uuid.h"

static void
db_notice_cb(void *arg, const char *message)
{
	size_t n = strlen(message);

	/* "NOTICE: schema rally already exists, skipping" is noise. */
	while (n > 0 && message[n - 1] == '\n')
		n--;
	log_debug("database: %.*s", (int)n, message);
}

/* A copy of a libpq or server message on one line, for "rallyctl: ..." and logs. */
static char *
one_line(const char *m)
{
	char *out = xmalloc(strlen(m) + 1), *o = out;

	while (*m != '\0') {
		if (*m == '\n' || *m == '\r') {
			while (isspace((unsigned char)*m))
				m++;
			if (*m != '\0')
				*o++ = ' ';
			continue;
		}
		*o++ = *m++;
	}
	while (o > out && isspace((unsigned char)o[-1]))
		o--;
	*o = '\0';
	return out;
}

PGconn *
db_connect(const char *conninfo, char **cause)
{
	const char *keys[4], *values[4];
	char timeout[16];
	PGconn *conn;
	int n = 0;

	/* Ours first: what conninfo (expanded from "dbname") says wins. */
	if (getenv("PGCONNECT_TIMEOUT") == NULL) {
		snprintf(timeout, sizeof timeout, "%d", DB_CONNECT_TIMEOUT_SEC);
		keys[n] = "connect_timeout";
		values[n++] = timeout;
	}
	keys[n] = "fallback_application_name";
	values[n++] = program_invocation_short_name;
	keys[n] = "dbname";
	values[n++] = conninfo;
	keys[n] = NULL;
	values[n] = NULL;

	conn = PQconnectdbParams(keys, values, 1);
	if (conn == NULL) {
		set_cause(cause, "database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		/* libpq quotes pieces of a conninfo it misread: its password too. */
		char *msg = db_mask_conninfo(one_line(PQerrorMessage(conn)),
		    conninfo);

		set_cause(cause, "database: %s", msg);
		free(msg);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, db_notice_cb, NULL);
	if (PQsetClientEncoding(conn, "UTF8") != 0) {
		set_cause(cause, "database: cannot set client_encoding UTF8");
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

void
db_close(PGconn *conn)
{
	if (conn != NULL)
		PQfinish(conn);
}

/* The server's primary message, or libpq's own when there is none. */
char *
db_result_message(PGconn *conn, const PGresult *res)
{
	const char *m = NULL;

	if (res != NULL)
		m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (m == NULL)
		m = PQerrorMessage(conn);
	if (m == NULL || *m == '\0')
		m = "unknown error";
	return one_line(m);
}

PGresult *
db_exec_params(PGconn *conn, const char *sql, int nparams,
    const char *const *params, const int *lengths, const int *formats,
    int result_format, char **cause)
{
	PGresult *res;
	char *msg;

	res = PQexecParams(conn, sql, nparams, NULL, params, lengths, formats,
	    result_format);
	if (res != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
			return res;
		default:
			break;
		}
	}
	msg = db_mask_params(db_result_message(conn, res), nparams, params,
	    formats);
	set_cause(cause, "%s", msg);
	free(msg);
	PQclear(res);
	return NULL;
}

PGresult *
db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
    char **cause)
{
	return db_exec_params(conn, sql, nparams, params, NULL, NULL, 0, cause);
}

int
db_command(PGconn *conn, const char *sql, int nparams,
    const char *const *params, char **cause)
{
	PGresult *res = db_exec(conn, sql, nparams, params, cause);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

char *
db_bytea_hex(const void *p, size_t len)
{
	char *out = xmalloc(2 + 2 * len + 1);

	memcpy(out, "\\x", 2);
	hex_encode(p, len, out + 2);
	return out;
}

int
db_begin(PGconn *conn, char **cause)
{
	return db_command(conn, "BEGIN", 0, NULL, cause);
}

int
db_commit(PGconn *conn, char **cause)
{
	PGresult *res;
	const char *tag;
	int rc = 0;

	if ((res = db_exec(conn, "COMMIT", 0, NULL, cause)) == NULL)
		return -1;
	/* COMMIT of a failed transaction "succeeds" with tag ROLLBACK. */
	tag = PQcmdStatus(res);
	if (tag == NULL || strcmp(tag, "COMMIT") != 0)
		rc = set_cause(cause, "transaction was rolled back");
	PQclear(res);
	return rc;
}

int
db_rollback(PGconn *conn, char **cause)
{
	PGTransactionStatusType ts = PQtransactionStatus(conn);
	char *why = NULL;

	if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR)
		return 0;
	if (db_command(conn, "ROLLBACK", 0, NULL, &why) == 0)
		return 0;
	if (cause != NULL)
		*cause = why;
	else {
		log_warnx("database: rollback: %s", why);
		free(why);
	}
	return -1;
}

/* A uuid in text form, or empty; anything else would break every RLS policy. */
static bool
valid_id(const char *s)
{
	char canonical[UUID_STR_LEN];

	return *s == '\0' || uuid_canonical(s, canonical);
}

int
db_set_tenant(PGconn *conn, const char *tenant_id, const char *user_id,
    char **cause)
{
	const char *params[3];

	tenant_id = tenant_id != NULL ? tenant_id : "";
	user_id = user_id != NULL ? user_id : "";
	if (!valid_id(tenant_id) || !valid_id(user_id))
		return set_cause(cause, "tenant or user id is not a uuid");
	params[0] = tenant_id;
	params[1] = user_id;
	params[2] = PQtransactionStatus(conn) == PQTRANS_INTRANS ? "true" :
	    "false";
	return db_command(conn,
	    "SELECT set_config('rally.tenant_id', $1, $3::boolean), "
	    "set_config('rally.user_id', $2, $3::boolean)", 3, params, cause);
}
