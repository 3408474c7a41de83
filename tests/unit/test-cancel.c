/* SPDX-License-Identifier: ISC */
/*
 * cancel (lib/cancel.c): a fire stops the children it watches, those
 * watched after it at once, and none it no longer watches.  (Its
 * statements' cancel is tested against a server: a backup stopped in a
 * lock wait, tests/integration/test_backup_write.py.)
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cancel.h"
#include "tap.h"

static pid_t
sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* How the child ended: the signal that ended it, or -1; SIGKILL first
 * when it still runs after a moment. */
static int
ended_by(pid_t pid, int *status)
{
	for (int n = 0; n < 100; n++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return WIFSIGNALED(*status) ? WTERMSIG(*status) : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return 0;
}

int
main(void)
{
	struct cancel c;
	pid_t watched, after, unwatched;
	int status;

	cancel_init(&c);
	ok(!cancel_requested(&c) && !cancel_requested(NULL),
	    "nothing requested yet, nor of no cancel");
	watched = sleeper();
	unwatched = sleeper();
	cancel_watch_child(&c, watched);
	cancel_watch_child(&c, unwatched);
	cancel_unwatch_child(&c, unwatched);
	cancel_fire(&c);
	ok(cancel_requested(&c), "a fire is requested");
	ok(ended_by(watched, &status) == SIGTERM, "a watched child is sent "
	    "SIGTERM");
	ok(ended_by(unwatched, &status) == 0, "one no longer watched is left "
	    "alone");
	after = sleeper();
	cancel_watch_child(&c, after);
	ok(ended_by(after, &status) == SIGTERM, "one watched after the fire "
	    "is sent SIGTERM at once");
	cancel_watch_child(NULL, after);
	cancel_watch_conn(NULL, NULL);
	ok(1, "a NULL cancel watches nothing");
	cancel_destroy(&c);
	return tap_done();
}
