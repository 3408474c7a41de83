/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cancel.h"
#include "log.h"
#include "pgtool.h"

#define PGTOOL_MAX_ENV 256
#define PGTOOL_ERR_TAIL 2000
#define PGTOOL_PIPE_SIZE (1024 * 1024)

extern char **environ;

/* environ with the conninfo's settings put first (they win over ours). */
static char **
child_env(const char *conninfo, const char *dbname, size_t *owned,
    char **cause)
{
	PQconninfoOption *opts, *o;
	char *err = NULL, **env;
	size_t n = 0, nenv = 0;

	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		set_cause(cause, "database conninfo: %s",
		    err != NULL ? err : "out of memory");
		PQfreemem(err);
		return NULL;
	}
	while (environ[nenv] != NULL)
		nenv++;
	env = xcalloc(PGTOOL_MAX_ENV + nenv + 2, sizeof *env);
	for (o = opts; o->keyword != NULL && n < PGTOOL_MAX_ENV; o++) {
		const char *v = o->val;

		if (strcmp(o->keyword, "dbname") == 0 && dbname != NULL)
			v = dbname;
		if (v != NULL && o->envvar != NULL)
			env[n++] = xasprintf("%s=%s", o->envvar, v);
	}
	PQconninfoFree(opts);
	*owned = n;
	/* getenv in the child takes the first match: ours come first. */
	for (size_t i = 0; i < nenv; i++)
		env[n + i] = environ[i];
	return env;
}

/* Frees the entries we made (they may hold a password), not environ's. */
static void
free_env(char **env, size_t owned)
{
	for (size_t i = 0; i < owned; i++)
		secure_free(env[i], strlen(env[i]));
	free(env);
}

static int
file_actions(posix_spawn_file_actions_t *fa, int pipefd[2], int errfd,
    enum pgtool_pipe dir)
{
	int rc = posix_spawn_file_actions_init(fa);
	int child_end = dir == PGTOOL_READ_STDOUT ? 1 : 0;

	if (rc == 0)
		rc = posix_spawn_file_actions_addopen(fa, 1 - child_end,
		    "/dev/null", child_end == 1 ? O_RDONLY : O_WRONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(fa, pipefd[child_end],
		    child_end);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(fa, errfd, 2);
	return rc;
}

int
pgtool_start(struct pgtool *s, const char *prog, char *const argv[],
    const char *conninfo, const char *dbname, enum pgtool_pipe dir,
    char **cause)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], rc;
	size_t owned = 0;
	char **env;

	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->name = xstrdup(prog);
	if ((env = child_env(conninfo, dbname, &owned, cause)) == NULL)
		return -1;
	if ((s->err = tmpfile()) == NULL || pipe2(pipefd, O_CLOEXEC) == -1) {
		rc = set_cause(cause, "%s: %s", prog, strerror(errno));
		free_env(env, owned);
		return rc;
	}
	if ((rc = file_actions(&fa, pipefd, fileno(s->err), dir)) == 0)
		rc = (strchr(prog, '/') != NULL ? posix_spawn : posix_spawnp)(
		    &s->pid, prog, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	free_env(env, owned);
	close(pipefd[dir == PGTOOL_READ_STDOUT ? 1 : 0]);
	s->fd = pipefd[dir == PGTOOL_READ_STDOUT ? 0 : 1];
	/* A deeper pipe lets the child run ahead while we compress (best effort). */
	(void)fcntl(s->fd, F_SETPIPE_SZ, PGTOOL_PIPE_SIZE);
	if (rc != 0) {
		s->pid = 0;
		return set_cause(cause, "cannot run %s: %s (set backup.%s to "
		    "its path)", prog, strerror(rc),
		    strstr(prog, "psql") != NULL ? "psql" : "pg_dump");
	}
	return 0;
}

/* value quoted for a conninfo: in single quotes, ' and \ escaped. */
static void
append_quoted(char **s, const char *key, const char *v)
{
	size_t n = strlen(*s), len = n + strlen(key) + 2 * strlen(v) + 6;
	char *out = xmalloc(len), *p;

	memcpy(out, *s, n);
	p = out + n;
	p += sprintf(p, "%s%s='", n > 0 ? " " : "", key);
	for (; *v != '\0'; v++) {
		if (*v == '\'' || *v == '\\')
			*p++ = '\\';
		*p++ = *v;
	}
	*p++ = '\'';
	*p = '\0';
	secure_free(*s, n);
	*s = out;
}

char *
pgtool_conninfo(const char *conninfo, const char *dbname, char **cause)
{
	PQconninfoOption *opts, *o;
	char *err = NULL, *s;

	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		set_cause(cause, "database conninfo: %s",
		    err != NULL ? err : "out of memory");
		PQfreemem(err);
		return NULL;
	}
	s = xstrdup("");
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "dbname") == 0)
			append_quoted(&s, o->keyword, dbname);
		else if (o->val != NULL)
			append_quoted(&s, o->keyword, o->val);
	}
	PQconninfoFree(opts);
	return s;
}

int
pgtool_write(struct pgtool *s, const void *buf, size_t len, char **cause)
{
	if (write_full(s->fd, buf, len) == -1)
		return set_cause(cause, "%s stopped reading: %s", s->name,
		    strerror(errno));
	return 0;
}

void
pgtool_close_pipe(struct pgtool *s)
{
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
}

/* The line of buf that says what went wrong: the last error, else the last line. */
static const char *
err_line(char *buf)
{
	static const char *const marks[] = { "ERROR:", "FATAL:", "error:" };
	char *line, *last = NULL, *err = NULL, *save = NULL;

	for (line = strtok_r(buf, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		last = line;
		for (size_t i = 0; i < nitems(marks); i++)
			if (strstr(line, marks[i]) != NULL)
				err = line;
	}
	if (err != NULL)
		return err;
	return last != NULL ? last : "no message";
}

/* What the child said went wrong, from the end of its stderr; caller frees. */
static char *
err_tail(FILE *f)
{
	char buf[PGTOOL_ERR_TAIL + 1];
	size_t n;
	long size;

	if (f == NULL || fseek(f, 0, SEEK_END) == -1 || (size = ftell(f)) <= 0)
		return xstrdup("no message");
	if (fseek(f, size > PGTOOL_ERR_TAIL ? size - PGTOOL_ERR_TAIL : 0,
	    SEEK_SET) == -1)
		return xstrdup("no message");
	n = fread(buf, 1, PGTOOL_ERR_TAIL, f);
	buf[n] = '\0';
	return log_sanitize(err_line(buf));
}

void
pgtool_watch(struct pgtool *s, struct cancel *c)
{
	s->cancel = c;
	cancel_watch_child(c, s->pid);
}

int
pgtool_wait(struct pgtool *s, char **cause)
{
	int status, rc = 0;
	siginfo_t info;
	char *tail;
	pid_t r;

	pgtool_close_pipe(s);
	if (s->cancel != NULL) {
		/* Its end awaited but not reaped, so that a fire meanwhile
		 * still signals this child and no other process. */
		while (waitid(P_PID, (id_t)s->pid, &info, WEXITED | WNOWAIT) ==
		    -1 && errno == EINTR)
			;
		cancel_unwatch_child(s->cancel, s->pid);
		s->cancel = NULL;
	}
	while ((r = waitpid(s->pid, &status, 0)) == -1 && errno == EINTR)
		;
	s->pid = 0;
	if (r == -1)
		rc = set_cause(cause, "%s: waitpid: %s", s->name,
		    strerror(errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		tail = err_tail(s->err);
		if (WIFEXITED(status))
			rc = set_cause(cause, "%s exited %d: %s", s->name,
			    WEXITSTATUS(status), tail);
		else
			rc = set_cause(cause, "%s killed by signal %d: %s",
			    s->name, WTERMSIG(status), tail);
		free(tail);
	}
	if (s->err != NULL)
		fclose(s->err);
	s->err = NULL;
	free(s->name);
	s->name = NULL;
	return rc;
}

void
pgtool_abort(struct pgtool *s)
{
	char *cause = NULL;

	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		if (pgtool_wait(s, &cause) == -1)
			free(cause);
		return;
	}
	pgtool_close_pipe(s);
	if (s->err != NULL)
		fclose(s->err);
	s->err = NULL;
	free(s->name);
	s->name = NULL;
}
