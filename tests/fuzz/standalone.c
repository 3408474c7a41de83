/* SPDX-License-Identifier: ISC */
/*
 * standalone: replays files through a fuzz target without libFuzzer, so
 * "make check" runs every seed (and every crash once added to the corpus)
 * in the ordinary build, under ASan/UBSan when configured with them.
 *
 *	run-corpus-NAME [FILE|DIR]...
 *
 * With no argument, replays tests/fuzz/corpus/NAME/ of the source tree:
 * $abs_top_srcdir (which "make check" sets), else the one configured.  Prints TAP: one
 * line per input; a crash aborts the run, which the TAP driver reports.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "util.h"

#if !defined(FUZZ_NAME) || !defined(FUZZ_TOP_SRCDIR)
#error "FUZZ_NAME and FUZZ_TOP_SRCDIR must be defined"
#endif

#define REPLAY_MAX_INPUT (16 * 1024 * 1024)

static int n_tests, n_failed;

static void
result(int good, const char *path, const char *why)
{
	printf("%sok %d - %s%s%s\n", good ? "" : "not ", ++n_tests, path,
	    why ? ": " : "", why ? why : "");
	fflush(stdout);
	if (!good)
		n_failed++;
}

/* Runs the target over one file. */
static void
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	size_t n;

	if (f == NULL) {
		result(0, path, strerror(errno));
		return;
	}
	buf = xmalloc(REPLAY_MAX_INPUT + 1);
	n = fread(buf, 1, REPLAY_MAX_INPUT + 1, f);
	if (ferror(f) || n > REPLAY_MAX_INPUT)
		result(0, path, ferror(f) ? "read error" : "larger than 16 MiB");
	else {
		/* An exact-size copy lets ASan see reads past the input. */
		unsigned char *exact = xmalloc(n);

		memcpy(exact, buf, n);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
		result(1, path, NULL);
	}
	free(buf);
	fclose(f);
}

static int
visible(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Runs the target over every file of dir, in name order. */
static void
replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, visible, alphasort);

	if (n == -1) {
		result(0, dir, strerror(errno));
		return;
	}
	if (n == 0)
		result(0, dir, "no corpus files");
	for (int i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]->d_name);

		replay_file(path);
		free(path);
		free(names[i]);
	}
	free(names);
}

static void
replay(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		replay_dir(path);
	else
		replay_file(path);
}

int
main(int argc, char **argv)
{
	const char *top = getenv("abs_top_srcdir");
	char *dir;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay(argv[i]);
	} else {
		dir = xasprintf("%s/tests/fuzz/corpus/%s",
		    top != NULL && *top != '\0' ? top : FUZZ_TOP_SRCDIR, FUZZ_NAME);
		replay(dir);
		free(dir);
	}
	printf("1..%d\n", n_tests);
	return n_failed ? 1 : 0;
}
