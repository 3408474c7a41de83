/* SPDX-License-Identifier: ISC */
/* seal: sealing secrets bound to their row, the keyring file and rotation. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "seal.h"
#include "tap.h"

static char dir[] = "/tmp/rally-test-seal-XXXXXX";

static const struct seal_ad ad_a1 = { "tenant-a", "1", "refresh_token" };
static const char token[] = "1//0refresh-token-for-tests";

/* A path in the test directory (static buffer). */
static const char *
at(const char *name)
{
	static char path[256];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

static void
write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	fwrite(text, 1, len, f);
	fclose(f);
	chmod(path, mode);
}

/* The text of path in buf (empty when unreadable). */
static void
read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f == NULL)
		return;
	buf[fread(buf, 1, size - 1, f)] = '\0';
	fclose(f);
}

/* "<id> <base64 of n bytes of value c>\n" */
static char *
key_line(unsigned id, size_t n, int c)
{
	unsigned char key[64];
	char *b64, *line;

	memset(key, c, n);
	b64 = b64_encode(key, n);
	line = xasprintf("%u %s\n", id, b64);
	free(b64);
	return line;
}

static struct keyring *
ring_from(const char *text)
{
	char *cause = NULL;
	struct keyring *kr = keyring_parse(text, strlen(text), "test", &cause);

	if (kr == NULL)
		printf("# keyring_parse: %s\n", cause);
	free(cause);
	return kr;
}

/* A keyring with keys 1 and 2 (or only 1). */
static struct keyring *
ring(bool two)
{
	char *a = key_line(1, 32, 0x11), *b = key_line(2, 32, 0x22);
	char *text = xasprintf("%s%s", a, two ? b : "");
	struct keyring *kr = ring_from(text);

	free(a);
	free(b);
	free(text);
	return kr;
}

static int
open_as(const struct keyring *kr, const struct seal_ad *ad,
    const unsigned char *in, size_t inlen, char **cause)
{
	unsigned char *pt = NULL;
	size_t ptlen = 0;
	int rc;

	*cause = NULL;
	rc = seal_open(kr, ad, in, inlen, &pt, &ptlen, cause);
	if (rc == 0)
		secure_free(pt, ptlen);
	return rc;
}

static void
test_round_trip(void)
{
	struct keyring *kr = ring(true);
	unsigned char *s1 = NULL, *s2 = NULL, *pt = NULL;
	size_t n1 = 0, n2 = 0, ptlen = 0;
	char *cause = NULL;
	uint32_t id;

	if (!ok(seal_seal(kr, &ad_a1, token, strlen(token), &s1, &n1, &cause) == 0,
	    "a token seals"))
		return;
	ok(n1 == SEAL_OVERHEAD + strlen(token) && s1[0] == 1,
	    "the sealed value is version 1 and 33 bytes longer than the token");
	ok(seal_key_id(s1, n1, &id) == 0 && id == 2,
	    "the newest key (2) sealed it");
	ok(seal_open(kr, &ad_a1, s1, n1, &pt, &ptlen, &cause) == 0 &&
	    ptlen == strlen(token) && memcmp(pt, token, ptlen) == 0 &&
	    pt[ptlen] == '\0', "it opens to the token, NUL-terminated");
	secure_free(pt, ptlen);
	pt = NULL;
	ok(seal_seal(kr, &ad_a1, token, strlen(token), &s2, &n2, &cause) == 0 &&
	    n1 == n2 && memcmp(s1, s2, n1) != 0,
	    "sealing the same token twice gives different values (random nonce)");
	ok(s2 != NULL && memcmp(s1 + 5, s2 + 5, SEAL_NONCE_LEN) != 0,
	    "the nonces differ");
	free(s1);
	free(s2);
	s1 = NULL;
	ok(seal_seal(kr, &ad_a1, "", 0, &s1, &n1, &cause) == 0 &&
	    seal_open(kr, &ad_a1, s1, n1, &pt, &ptlen, &cause) == 0 &&
	    ptlen == 0 && pt[0] == '\0', "an empty value round-trips");
	free(s1);
	secure_free(pt, ptlen);
	keyring_free(kr);
}

static void
test_plaintext_limit(void)
{
	struct keyring *kr = ring(false);
	unsigned char *big = xcalloc(1, SEAL_MAX_PLAINTEXT + 1), *s = NULL, *pt = NULL;
	size_t n = 0, ptlen = 0;
	char *cause = NULL;

	ok(seal_seal(kr, &ad_a1, big, SEAL_MAX_PLAINTEXT, &s, &n, &cause) == 0 &&
	    seal_open(kr, &ad_a1, s, n, &pt, &ptlen, &cause) == 0 &&
	    ptlen == SEAL_MAX_PLAINTEXT, "a 64 KiB value seals and opens");
	free(s);
	secure_free(pt, ptlen);
	s = NULL;
	ok(seal_seal(kr, &ad_a1, big, SEAL_MAX_PLAINTEXT + 1, &s, &n, &cause) == -1 &&
	    cause != NULL && strstr(cause, "longer than 65536") != NULL,
	    "a value over 64 KiB is refused");
	free(cause);
	free(big);
	keyring_free(kr);
}

static void
test_tampering(void)
{
	struct keyring *kr = ring(true);
	unsigned char *s = NULL;
	size_t n = 0, i;
	char *cause = NULL;
	int opened = 0;

	if (seal_seal(kr, &ad_a1, token, strlen(token), &s, &n, &cause) == -1)
		return;
	for (i = 0; i < n; i++)
		if (open_as(kr, &ad_a1, s, i, &cause) == 0)
			opened++;
		else
			free(cause);
	ok(opened == 0, "no truncation of a sealed value opens (%zu lengths)", n);
	for (i = 0; i < n * 8; i++) {
		s[i / 8] ^= (unsigned char)(1 << (i % 8));
		if (open_as(kr, &ad_a1, s, n, &cause) == 0)
			opened++;
		else
			free(cause);
		s[i / 8] ^= (unsigned char)(1 << (i % 8));
	}
	ok(opened == 0, "no single flipped bit anywhere opens (%zu bits)", n * 8);
	ok(open_as(kr, &ad_a1, s, n, &cause) == 0, "the untouched value still opens");
	s[0] = 2;
	ok(open_as(kr, &ad_a1, s, n, &cause) == -1 &&
	    strstr(cause, "unknown version 2") != NULL,
	    "a wrong version byte is reported as such");
	free(cause);
	s[0] = 1;
	s[4] = 7;
	ok(open_as(kr, &ad_a1, s, n, &cause) == -1 &&
	    strstr(cause, "key id 7 is not in the keyring") != NULL,
	    "an unknown key id is reported as such");
	free(cause);
	ok(open_as(kr, &ad_a1, s, 3, &cause) == -1 &&
	    strstr(cause, "truncated") != NULL, "a truncated value is reported as such");
	free(cause);
	free(s);
	keyring_free(kr);
}

/* A value sealed for ad_a1 must not open as ad. */
static void
expect_bound(const struct keyring *kr, const unsigned char *s, size_t n,
    const struct seal_ad *ad, const char *name)
{
	char *cause = NULL;
	int rc = open_as(kr, ad, s, n, &cause);

	ok(rc == -1 && cause != NULL && strstr(cause, "does not open") != NULL &&
	    strstr(cause, token) == NULL, "%s", name);
	free(cause);
}

static void
test_bound_to_row_and_column(void)
{
	static const struct seal_ad b1 = { "tenant-b", "1", "refresh_token" };
	static const struct seal_ad a2 = { "tenant-a", "2", "refresh_token" };
	static const struct seal_ad a1_access = { "tenant-a", "1", "access_token" };
	static const struct seal_ad x12 = { "t1", "23", "c" };
	static const struct seal_ad x1_23 = { "t", "123", "c" };
	static const struct seal_ad unset = { "tenant-a", "", "refresh_token" };
	struct keyring *kr = ring(true);
	unsigned char *s = NULL, *pt = NULL;
	size_t n = 0, ptlen = 0;
	char *cause = NULL;

	if (seal_seal(kr, &ad_a1, token, strlen(token), &s, &n, &cause) == -1)
		return;
	expect_bound(kr, s, n, &b1, "a value of tenant A does not open as tenant B's");
	expect_bound(kr, s, n, &a2, "a value of row 1 does not open as row 2's");
	expect_bound(kr, s, n, &a1_access,
	    "a refresh_token value does not open as the access_token column");
	free(s);
	if (seal_seal(kr, &x12, token, strlen(token), &s, &n, &cause) == -1)
		return;
	expect_bound(kr, s, n, &x1_23,
	    "fields are length-prefixed: (t1, 23) does not open as (t, 123)");
	ok(seal_open(kr, &unset, s, n, &pt, &ptlen, &cause) == -1 &&
	    strstr(cause, "row id is not set") != NULL,
	    "an empty row id is refused when opening");
	free(cause);
	ok(seal_seal(kr, &unset, token, 3, &pt, &ptlen, &cause) == -1 &&
	    strstr(cause, "row id is not set") != NULL,
	    "an empty row id is refused when sealing");
	free(cause);
	free(s);
	keyring_free(kr);
}

static void
test_rotation_in_memory(void)
{
	struct keyring *old = ring(false), *both = ring(true);
	unsigned char *v1 = NULL, *v2 = NULL, *pt = NULL;
	size_t n1 = 0, n2 = 0, ptlen = 0;
	char *cause = NULL;
	uint32_t id = 0;

	if (seal_seal(old, &ad_a1, token, strlen(token), &v1, &n1, &cause) == -1 ||
	    seal_seal(both, &ad_a1, token, strlen(token), &v2, &n2, &cause) == -1)
		return;
	ok(seal_key_id(v1, n1, &id) == 0 && id == 1, "the old ring seals with key 1");
	ok(seal_key_id(v2, n2, &id) == 0 && id == 2, "a ring with keys 1 and 2 seals with 2");
	ok(seal_open(both, &ad_a1, v1, n1, &pt, &ptlen, &cause) == 0 &&
	    strcmp((char *)pt, token) == 0, "it still opens values sealed with key 1");
	secure_free(pt, ptlen);
	ok(seal_open(old, &ad_a1, v2, n2, &pt, &ptlen, &cause) == -1 &&
	    strstr(cause, "key id 2 is not in the keyring") != NULL,
	    "a ring without key 2 cannot open values sealed with it");
	free(cause);
	ok(seal_key_id(v2, 10, &id) == -1, "seal_key_id rejects a truncated value");
	free(v1);
	free(v2);
	keyring_free(old);
	keyring_free(both);
}

static bool
dir_has_only(const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int others = 0;

	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strcmp(de->d_name, name) != 0)
			others++;
	closedir(d);
	return others == 0;
}

static void
test_generate(void)
{
	const char *path = at("keyring");
	char *cause = NULL, before[4096], after[4096];
	struct keyring *kr;
	struct stat st;

	unlink(path);
	ok(keyring_generate(path, &cause) == 0, "keyring_generate creates a keyring");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "the new keyring is mode 0600");
	kr = keyring_load(path, &cause);
	ok(kr != NULL && keyring_newest_id(kr) == 1 && keyring_has(kr, 1) &&
	    !keyring_has(kr, 2) && keyring_count(kr) == 1,
	    "it loads with one key, id 1");
	keyring_free(kr);
	read_file(path, before, sizeof before);
	ok(keyring_generate(path, &cause) == -1 && cause != NULL &&
	    strstr(cause, "already exists") != NULL,
	    "keyring_generate refuses to overwrite an existing file");
	free(cause);
	read_file(path, after, sizeof after);
	ok(strcmp(before, after) == 0, "the existing keyring is left byte for byte");
	ok(dir_has_only("keyring"), "no temporary file is left behind");
}

/* Continues test_generate: rotation through the file. */
static void
test_add_key(void)
{
	const char *path = at("keyring");
	struct keyring *before, *after;
	unsigned char *v1 = NULL, *pt = NULL;
	size_t n1 = 0, ptlen = 0;
	char *cause = NULL, text[4096];
	uint32_t id = 0;
	struct stat st;

	if ((before = keyring_load(path, &cause)) == NULL ||
	    seal_seal(before, &ad_a1, token, strlen(token), &v1, &n1, &cause) == -1)
		return;
	ok(keyring_add_key(path, &id, &cause) == 0 && id == 2,
	    "keyring_add_key appends key 2");
	after = keyring_load(path, &cause);
	ok(after != NULL && keyring_newest_id(after) == 2 && keyring_count(after) == 2,
	    "the file now has keys 1 and 2, 2 newest");
	ok(after != NULL && seal_open(after, &ad_a1, v1, n1, &pt, &ptlen, &cause) == 0,
	    "key 1 is unchanged: its values still open");
	if (after != NULL)
		secure_free(pt, ptlen);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "the rewritten keyring keeps mode 0600");
	read_file(path, text, sizeof text);
	ok(strncmp(text, "# Rally keyring", 15) == 0, "comment lines are kept");
	ok(keyring_add_key(path, &id, &cause) == 0 && id == 3,
	    "a second rotation appends key 3");
	ok(dir_has_only("keyring"), "no temporary file is left behind");
	ok(keyring_add_key(at("missing"), &id, &cause) == -1 &&
	    strstr(cause, "No such file") != NULL,
	    "keyring_add_key on a missing file fails with the reason");
	free(cause);
	free(v1);
	keyring_free(before);
	keyring_free(after);
}

/*
 * Loading text (written with mode) must fail with a message naming the
 * file and containing want; a want starting with ':' must follow the path.
 */
static void
expect_bad_file(const char *text, size_t len, mode_t mode, const char *want,
    const char *name)
{
	const char *path = at("bad");
	char *cause = NULL, *full;
	struct keyring *kr;

	write_file(path, text, len, mode);
	kr = keyring_load(path, &cause);
	full = want[0] == ':' ? xasprintf("%s%s", path, want) : xstrdup(want);
	if (!ok(kr == NULL && cause != NULL && strstr(cause, path) != NULL &&
	    strstr(cause, full) != NULL, "%s", name))
		printf("#   cause: %s\n#   want:  %s\n", cause ? cause : "(none)", full);
	keyring_free(kr);
	free(cause);
	free(full);
	unlink(path);
}

static void
expect_good_file(const char *text, mode_t mode, const char *name)
{
	const char *path = at("good");
	char *cause = NULL;
	struct keyring *kr;

	write_file(path, text, strlen(text), mode);
	kr = keyring_load(path, &cause);
	if (!ok(kr != NULL, "%s", name))
		printf("#   cause: %s\n", cause);
	keyring_free(kr);
	free(cause);
	unlink(path);
}

static void
test_malformed_files(void)
{
	char *k1 = key_line(1, 32, 0x11), *short_key = key_line(1, 16, 0x33);
	char *t;

	expect_bad_file("1 !!!!not-base64!!!!\n", 21, 0600,
	    ":1: key 1 is not valid base64", "bad base64 names file and line");
	expect_bad_file(short_key, strlen(short_key), 0600,
	    ":1: key 1 is 16 bytes, not 32", "a 16-byte key names file and line");
	t = xasprintf("# keys\n%s%s", k1, k1);
	expect_bad_file(t, strlen(t), 0600, ":3: duplicate key id 1 (first on line 2)",
	    "a duplicate id names both lines");
	free(t);
	expect_bad_file("0 AAAA\n", 7, 0600,
	    ":1: key id must be an integer from 1 to 2147483648", "id 0 is refused");
	expect_bad_file("2147483649 AAAA\n", 16, 0600, ":1: key id must be",
	    "an id above 2^31 is refused");
	expect_bad_file("01 AAAA\n", 8, 0600, ":1: key id must be",
	    "an id with a leading zero is refused");
	expect_bad_file("-1 AAAA\n", 8, 0600, ":1: key id must be",
	    "a negative id is refused");
	expect_bad_file("\n1\n", 3, 0600, ":2: expected \"<id> <base64 key>\"",
	    "a line with an id and no key is refused");
	t = xasprintf("%.*s extra\n", (int)strlen(k1) - 1, k1);
	expect_bad_file(t, strlen(t), 0600, ":1: expected \"<id> <base64 key>\"",
	    "trailing words after the key are refused");
	free(t);
	expect_bad_file("# nothing here\n\n", 16, 0600, ": no keys",
	    "a file without keys is refused");
	expect_bad_file("# a\0b\n", 6, 0600, ":1: NUL byte", "a NUL byte is refused");
	t = xmalloc(KEYRING_MAX_LINE + 10);
	memset(t, '#', KEYRING_MAX_LINE + 1);
	strcpy(t + KEYRING_MAX_LINE + 1, "\n");
	expect_bad_file(t, strlen(t), 0600, ":1: line longer than 1024 bytes",
	    "an overlong line is refused");
	free(t);
	t = xmalloc(KEYRING_MAX_FILE + 2);
	memset(t, '\n', KEYRING_MAX_FILE + 1);
	expect_bad_file(t, KEYRING_MAX_FILE + 1, 0600, ": larger than 65536 bytes",
	    "a file over 64 KiB is refused");
	free(t);
	expect_bad_file(k1, strlen(k1), 0644, "is readable by others: chmod 600",
	    "a world-readable keyring is refused with the fix");
	expect_bad_file(k1, strlen(k1), 0620, "is writable by group or others: chmod 600",
	    "a group-writable keyring is refused");
	/* The web server is in group rally: group read exposes the keys. */
	expect_bad_file(k1, strlen(k1), 0640, "is readable by group: chmod 600 ",
	    "a group-readable keyring (0640) is refused with the fix");
	expect_bad_file(k1, strlen(k1), 0440, "is readable by group: chmod 600 ",
	    "a group-readable keyring (0440) outside the credentials is refused");
	free(k1);
	free(short_key);
}

/* A line per key, 1001 keys: within 64 KiB but over the key limit. */
static void
test_too_many_keys(void)
{
	size_t len = 0, len1000 = 0;
	char *text = xmalloc(KEYRING_MAX_FILE), *cause = NULL;
	struct keyring *kr;

	for (unsigned id = 1; id <= KEYRING_MAX_KEYS + 1; id++) {
		char *l = key_line(id, 32, (int)id);

		memcpy(text + len, l, strlen(l));
		len += strlen(l);
		free(l);
		if (id == KEYRING_MAX_KEYS)
			len1000 = len;
	}
	kr = keyring_parse(text, len1000, "big", &cause);
	ok(kr != NULL && keyring_count(kr) == 1000 &&
	    keyring_newest_id(kr) == 1000, "1000 keys are accepted");
	keyring_free(kr);
	kr = keyring_parse(text, len, "big", &cause);
	ok(kr == NULL && cause != NULL &&
	    strstr(cause, "big:1001: more than 1000 keys") != NULL,
	    "a 1001st key is refused");
	keyring_free(kr);
	free(cause);
	free(text);
}

static void
test_accepted_files(void)
{
	char *k1 = key_line(1, 32, 0x11), *kmax = key_line(KEYRING_MAX_ID, 32, 0x44);
	char *crlf = xasprintf("# comment\r\n\r\n  %.*s  \r\n", (int)strlen(k1) - 1, k1);
	char *nonl = xasprintf("%.*s", (int)strlen(k1) - 1, k1);

	expect_good_file(k1, 0400, "mode 0400 is accepted");
	expect_good_file(kmax, 0600, "id 2^31 is accepted");
	expect_good_file(crlf, 0600, "CRLF line ends and blanks around fields are accepted");
	expect_good_file(nonl, 0600, "a last line without a newline is accepted");
	free(k1);
	free(kmax);
	free(crlf);
	free(nonl);
}

/* Messages name the file and line, never the key. */
static void
test_errors_hide_keys(void)
{
	char *k1 = key_line(1, 32, 0x11), *k2 = key_line(1, 31, 0x55);
	char *b1 = xstrndup(strchr(k1, ' ') + 1, 44), *b2 = xstrndup(strchr(k2, ' ') + 1, 44);
	char *text = xasprintf("%s%s", k1, k2), *cause = NULL;
	struct keyring *kr = keyring_parse(text, strlen(text), "t", &cause);

	ok(kr == NULL && cause != NULL && strstr(cause, b1) == NULL &&
	    strstr(cause, b2) == NULL && strstr(cause, "t:2:") != NULL,
	    "a keyring error does not quote key material");
	free(cause);
	free(text);
	free(b1);
	free(b2);
	free(k1);
	free(k2);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	test_round_trip();
	test_plaintext_limit();
	test_tampering();
	test_bound_to_row_and_column();
	test_rotation_in_memory();
	test_generate();
	test_add_key();
	test_malformed_files();
	test_too_many_keys();
	test_accepted_files();
	test_errors_hide_keys();
	unlink(at("keyring"));
	rmdir(dir);
	return tap_done();
}
