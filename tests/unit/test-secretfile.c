/* SPDX-License-Identifier: ISC */
/*
 * secretfile: which modes each kind of secret file may have.  The keyring
 * and the client secret are read with flags 0, the push token with
 * SECRETFILE_GROUP_READ.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secretfile.h"
#include "tap.h"
#include "util.h"

#define MAX 64

static char dir[] = "/tmp/rally-test-secretfile-XXXXXX";

static char *
write_secret(const char *name, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	fputs("s3cret\n", f);
	fclose(f);
	chmod(path, mode);
	return path;
}

/* Reads name (written with mode) with flags; the cause or NULL. */
static char *
try_read(const char *name, mode_t mode, int flags)
{
	char *path = write_secret(name, mode), *buf = NULL, *cause = NULL;
	size_t len;

	if (secretfile_read("test secret", path, flags, MAX, &buf, &len, NULL,
	    &cause) == 0) {
		if (len != 7 || strcmp(buf, "s3cret\n") != 0)
			cause = xstrdup("wrong contents");
		secure_free(buf, MAX + 1);
	}
	unlink(path);
	free(path);
	return cause;
}

static void
expect(const char *name, mode_t mode, int flags, const char *want,
    const char *test)
{
	char *cause = try_read(name, mode, flags);

	if (want == NULL) {
		if (!ok(cause == NULL, "%s", test))
			printf("#   cause: %s\n", cause);
	} else if (!ok(cause != NULL && strstr(cause, want) != NULL, "%s", test))
		printf("#   cause: %s\n", cause != NULL ? cause : "(none)");
	free(cause);
}

static void
test_private_files(void)
{
	char *want = xasprintf("readable by group: chmod 600 %s/g", dir);

	expect("a", 0600, 0, NULL, "mode 0600 is accepted");
	expect("b", 0400, 0, NULL, "mode 0400 is accepted");
	expect("g", 0640, 0, want, "mode 0640 is refused, naming the fix");
	expect("g", 0440, 0, want, "mode 0440 is refused, naming the fix");
	expect("o", 0604, 0, "readable by others: chmod 600",
	    "mode 0604 is refused");
	free(want);
}

static void
test_group_read_flag(void)
{
	expect("a", 0640, SECRETFILE_GROUP_READ, NULL,
	    "with SECRETFILE_GROUP_READ mode 0640 is accepted");
	expect("b", 0644, SECRETFILE_GROUP_READ, "readable by others",
	    "with SECRETFILE_GROUP_READ mode 0644 is still refused");
	expect("c", 0660, SECRETFILE_GROUP_READ, "writable by group",
	    "with SECRETFILE_GROUP_READ mode 0660 is still refused");
}

/* systemd's ACL on a credential shows as group read; the dir is private. */
static void
test_credentials_directory(void)
{
	char *creds = xasprintf("%s/creds", dir);

	mkdir(creds, 0700);
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	expect("creds/keyring", 0440, 0, NULL,
	    "a credential with mode 0440 is accepted");
	expect("creds2", 0440, 0, "readable by group",
	    "a file beside the credentials directory is not a credential");
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	expect("creds/keyring", 0440, 0, "readable by group",
	    "a file below a credential's directory is not a credential");
	unsetenv("CREDENTIALS_DIRECTORY");
	rmdir(creds);
	free(creds);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_private_files();
	test_group_read_flag();
	test_credentials_directory();
	rmdir(dir);
	return tap_done();
}
