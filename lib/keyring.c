/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "b64.h"
#include "keyring.h"
#include "log.h"
#include "secretfile.h"

struct keyring_key {
	uint32_t id;
	unsigned char key[KEYRING_KEY_LEN];
};

struct keyring {
	struct keyring_key *keys;	/* a private mapping of map_len bytes */
	size_t map_len;
	size_t cap;	/* keys the mapping holds */
	size_t n;
	uint32_t newest;
};

/* Parser state for one keyring file. */
struct keyring_parse {
	const char *name;
	unsigned line;
	struct keyring *kr;
	unsigned key_line[KEYRING_MAX_KEYS];	/* where each key was, for duplicates */
};

/*
 * Keys get their own mapping rather than heap memory: it can be locked
 * out of swap and left out of core dumps without touching other data,
 * and unmapping it returns nothing to an allocator that might hand the
 * bytes out again.
 */
static struct keyring *
keyring_alloc(size_t cap, char **cause)
{
	struct keyring *kr = xcalloc(1, sizeof *kr);
	long page = sysconf(_SC_PAGESIZE);
	size_t len = cap * sizeof *kr->keys;

	if (page > 0)
		len = (len + (size_t)page - 1) / (size_t)page * (size_t)page;
	kr->keys = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kr->keys == MAP_FAILED) {
		set_cause(cause, "keyring: mmap: %s", strerror(errno));
		free(kr);
		return NULL;
	}
	kr->map_len = len;
	kr->cap = cap;
	if (mlock(kr->keys, len) == -1)
		log_debug("keyring: mlock: %s (keys may be swapped)",
		    strerror(errno));
	(void)madvise(kr->keys, len, MADV_DONTDUMP);
	return kr;
}

void
keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	OPENSSL_cleanse(kr->keys, kr->map_len);
	munlock(kr->keys, kr->map_len);
	munmap(kr->keys, kr->map_len);
	free(kr);
}

uint32_t
keyring_newest_id(const struct keyring *kr)
{
	return kr->newest;
}

size_t
keyring_count(const struct keyring *kr)
{
	return kr->n;
}

const unsigned char *
keyring_find(const struct keyring *kr, uint32_t id)
{
	for (size_t i = 0; i < kr->n; i++)
		if (kr->keys[i].id == id)
			return kr->keys[i].key;
	return NULL;
}

bool
keyring_has(const struct keyring *kr, uint32_t id)
{
	return keyring_find(kr, id) != NULL;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Decimal id in 1..KEYRING_MAX_ID, no sign, no leading zero; 0 or -1. */
static int
parse_id(const char *s, size_t n, uint32_t *id)
{
	uint64_t v = 0;

	if (n == 0 || n > 10 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > KEYRING_MAX_ID)
		return -1;
	*id = (uint32_t)v;
	return 0;
}

static int
keyring_add(struct keyring_parse *p, uint32_t id, const unsigned char *key,
    char **cause)
{
	struct keyring *kr = p->kr;

	for (size_t i = 0; i < kr->n; i++)
		if (kr->keys[i].id == id)
			return set_cause(cause, "%s:%u: duplicate key id %u "
			    "(first on line %u)", p->name, p->line, id,
			    p->key_line[i]);
	if (kr->n == KEYRING_MAX_KEYS)
		return set_cause(cause, "%s:%u: more than %d keys", p->name,
		    p->line, KEYRING_MAX_KEYS);
	if (kr->n == kr->cap)	/* cannot happen: cap counts the lines */
		fatalx("keyring: more keys than lines");
	kr->keys[kr->n].id = id;
	memcpy(kr->keys[kr->n].key, key, KEYRING_KEY_LEN);
	p->key_line[kr->n++] = p->line;
	if (id > kr->newest)
		kr->newest = id;
	return 0;
}

/* "<id> <base64>" between s and e, blanks already trimmed at both ends. */
static int
parse_entry(struct keyring_parse *p, const char *s, const char *e, char **cause)
{
	const char *sp = s, *k;
	unsigned char *key;
	size_t keylen;
	uint32_t id;
	int rc;

	while (sp < e && !is_blank(*sp))
		sp++;
	for (k = sp; k < e && is_blank(*k); k++)
		;
	if (k == sp || k == e || memchr(k, ' ', (size_t)(e - k)) != NULL ||
	    memchr(k, '\t', (size_t)(e - k)) != NULL)
		return set_cause(cause, "%s:%u: expected \"<id> <base64 key>\"",
		    p->name, p->line);
	if (parse_id(s, (size_t)(sp - s), &id) == -1)
		return set_cause(cause, "%s:%u: key id must be an integer from "
		    "1 to %u", p->name, p->line, KEYRING_MAX_ID);
	if (b64_decode(k, (size_t)(e - k), &key, &keylen) == -1)
		return set_cause(cause, "%s:%u: key %u is not valid base64",
		    p->name, p->line, id);
	if (keylen != KEYRING_KEY_LEN)
		rc = set_cause(cause, "%s:%u: key %u is %zu bytes, not %d",
		    p->name, p->line, id, keylen, KEYRING_KEY_LEN);
	else
		rc = keyring_add(p, id, key, cause);
	secure_free(key, keylen);
	return rc;
}

static int
parse_line(struct keyring_parse *p, const char *s, size_t n, char **cause)
{
	const char *e = s + n;

	if (n > KEYRING_MAX_LINE)
		return set_cause(cause, "%s:%u: line longer than %d bytes",
		    p->name, p->line, KEYRING_MAX_LINE);
	if (memchr(s, '\0', n) != NULL)
		return set_cause(cause, "%s:%u: NUL byte", p->name, p->line);
	while (s < e && is_blank(*s))
		s++;
	while (e > s && is_blank(e[-1]))
		e--;
	if (s == e || *s == '#')
		return 0;
	return parse_entry(p, s, e, cause);
}

/* An upper bound on the keys buf can hold, so the mapping fits the file. */
static size_t
count_lines(const char *buf, size_t len)
{
	const char *s = buf, *end = buf + len;
	size_t n = 1;

	while (n < KEYRING_MAX_KEYS && s < end &&
	    (s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		n++;
		s++;
	}
	return n;
}

struct keyring *
keyring_parse(const char *buf, size_t len, const char *name, char **cause)
{
	struct keyring_parse *p;
	const char *s = buf, *end = buf + len, *nl;
	struct keyring *kr;
	int rc = 0;

	if (len > KEYRING_MAX_FILE) {
		set_cause(cause, "%s: larger than %d bytes", name,
		    KEYRING_MAX_FILE);
		return NULL;
	}
	if ((kr = keyring_alloc(count_lines(buf, len), cause)) == NULL)
		return NULL;
	p = xcalloc(1, sizeof *p);
	p->name = name;
	p->kr = kr;
	while (rc == 0 && s < end) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		p->line++;
		rc = parse_line(p, s, (size_t)(nl - s), cause);
		s = nl + 1;
	}
	if (rc == 0 && kr->n == 0)
		rc = set_cause(cause, "%s: no keys", name);
	free(p);
	if (rc == -1) {
		keyring_free(kr);
		return NULL;
	}
	return kr;
}

/*
 * Reads a keyring file after checking its type and mode.  *buf (free it
 * with secure_free(*buf, KEYRING_MAX_FILE + 1)) holds the whole file.
 */
static int
read_keyring(const char *path, char **buf, size_t *len, mode_t *mode,
    char **cause)
{
	return secretfile_read("keyring", path, 0, KEYRING_MAX_FILE, buf, len,
	    mode, cause);
}

struct keyring *
keyring_load(const char *path, char **cause)
{
	struct keyring *kr;
	char *buf;
	size_t len;
	mode_t mode;

	if (read_keyring(path, &buf, &len, &mode, cause) == -1)
		return NULL;
	kr = keyring_parse(buf, len, path, cause);
	secure_free(buf, KEYRING_MAX_FILE + 1);
	return kr;
}

/* Makes a rename or creation in path's directory durable. */
static int
fsync_parent(const char *path, char **cause)
{
	char *copy = xstrdup(path);
	int rc = fsync_dir(dirname(copy), cause);

	free(copy);
	return rc;
}

/* "<id> <base64 of a new random key>\n"; free with secure_free(s, strlen(s)). */
static char *
new_key_line(uint32_t id)
{
	unsigned char key[KEYRING_KEY_LEN];
	char *b64, *line;

	random_bytes(key, sizeof key);
	b64 = b64_encode(key, sizeof key);
	OPENSSL_cleanse(key, sizeof key);
	line = xasprintf("%u %s\n", id, b64);
	secure_free(b64, strlen(b64));
	return line;
}

int
keyring_generate(const char *path, char **cause)
{
	char *line = new_key_line(1), *text;
	int fd, rc;

	text = xasprintf("# Rally keyring: \"<id> <base64 of 32 bytes>\" per "
	    "line; the highest id seals new values.\n%s", line);
	secure_free(line, strlen(line));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		if (errno == EEXIST)
			set_cause(cause, "keyring %s already exists: refusing "
			    "to overwrite it", path);
		else
			set_cause(cause, "%s: %s", path, strerror(errno));
		secure_free(text, strlen(text));
		return -1;
	}
	rc = write_sync_close(fd, path, text, strlen(text), cause);
	secure_free(text, strlen(text));
	if (rc == 0)
		rc = fsync_parent(path, cause);
	if (rc == -1)
		unlink(path);
	return rc;
}

/* Replaces path with buf through a synced temporary file of the given mode. */
static int
replace_file(const char *path, const char *buf, size_t len, mode_t mode,
    char **cause)
{
	char *tmp = xasprintf("%s.XXXXXX", path);
	int fd, rc;

	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		set_cause(cause, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, mode) == -1) {
		set_cause(cause, "%s: %s", tmp, strerror(errno));
		close(fd);
		rc = -1;
	} else
		rc = write_sync_close(fd, tmp, buf, len, cause);
	if (rc == 0 && rename(tmp, path) == -1)
		rc = set_cause(cause, "%s: %s", path, strerror(errno));
	if (rc == -1)
		unlink(tmp);
	else
		rc = fsync_parent(path, cause);
	free(tmp);
	return rc;
}

/* The file's text with a new key line for id appended; checked to parse. */
static char *
append_key(const char *path, const char *buf, size_t len, uint32_t id,
    size_t *newlen, char **cause)
{
	bool nl = len > 0 && buf[len - 1] != '\n';
	char *line = new_key_line(id), *text;
	size_t linelen = strlen(line), size = len + nl + linelen + 1;
	struct keyring *check;

	text = xmalloc(size);
	memcpy(text, buf, len);
	if (nl)
		text[len] = '\n';
	memcpy(text + len + nl, line, linelen + 1);
	secure_free(line, linelen);
	*newlen = size - 1;
	/* The limits apply to the new file too. */
	if ((check = keyring_parse(text, *newlen, path, cause)) == NULL) {
		secure_free(text, size);
		return NULL;
	}
	keyring_free(check);
	return text;
}

int
keyring_add_key(const char *path, uint32_t *new_id, char **cause)
{
	struct keyring *kr;
	char *buf, *text = NULL;
	size_t len, newlen = 0;
	mode_t mode;
	uint32_t id = 0;
	int rc = -1;

	if (read_keyring(path, &buf, &len, &mode, cause) == -1)
		return -1;
	if ((kr = keyring_parse(buf, len, path, cause)) == NULL)
		goto out;
	id = kr->newest;
	keyring_free(kr);
	if (id == KEYRING_MAX_ID) {
		set_cause(cause, "%s: key id %u is the last one", path, id);
		goto out;
	}
	id++;
	if ((text = append_key(path, buf, len, id, &newlen, cause)) == NULL)
		goto out;
	/* Keep the owner's write bit so the next rotation can replace it too. */
	if ((rc = replace_file(path, text, newlen, mode | S_IWUSR, cause)) == 0)
		*new_id = id;
out:
	secure_free(buf, KEYRING_MAX_FILE + 1);
	if (text != NULL)
		secure_free(text, newlen);
	return rc;
}
