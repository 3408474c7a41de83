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
#include <openssl/evp.h>

#include "b64.h"
#include "log.h"
#include "seal.h"
#include "secretfile.h"

#define SEAL_DOMAIN "rally-seal-v1"
/* Domain, version, key id and three fields, each length-prefixed. */
#define SEAL_MAX_AD (4 + sizeof SEAL_DOMAIN + 1 + 4 + 3 * (4 + SEAL_MAX_AD_FIELD))

struct keyring_key {
	uint32_t id;
	unsigned char key[SEAL_KEY_LEN];
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

static const unsigned char *
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
	memcpy(kr->keys[kr->n].key, key, SEAL_KEY_LEN);
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
	if (keylen != SEAL_KEY_LEN)
		rc = set_cause(cause, "%s:%u: key %u is %zu bytes, not %d",
		    p->name, p->line, id, keylen, SEAL_KEY_LEN);
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

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t r;

	while (len > 0) {
		if ((r = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Makes a rename or creation in path's directory durable. */
static int
fsync_dir(const char *path, char **cause)
{
	char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	int fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		rc = set_cause(cause, "%s: %s", dir, strerror(errno));
	if (fd != -1)
		close(fd);
	free(copy);
	return rc;
}

/* Writes, syncs and closes fd; on error *cause names path. */
static int
write_sync_close(int fd, const char *path, const char *buf, size_t len,
    char **cause)
{
	int rc = 0;

	if (write_all(fd, buf, len) == -1 || fsync(fd) == -1)
		rc = set_cause(cause, "%s: %s", path, strerror(errno));
	if (close(fd) == -1 && rc == 0)
		rc = set_cause(cause, "%s: %s", path, strerror(errno));
	return rc;
}

/* "<id> <base64 of a new random key>\n"; free with secure_free(s, strlen(s)). */
static char *
new_key_line(uint32_t id)
{
	unsigned char key[SEAL_KEY_LEN];
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
		rc = fsync_dir(path, cause);
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
		rc = fsync_dir(path, cause);
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

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static size_t
put_field(unsigned char *p, const void *v, size_t n)
{
	put_u32(p, (uint32_t)n);
	memcpy(p + 4, v, n);
	return 4 + n;
}

static int
check_ad_field(const char *what, const char *v, char **cause)
{
	if (v == NULL || *v == '\0')
		return set_cause(cause, "seal: %s is not set", what);
	if (strlen(v) > SEAL_MAX_AD_FIELD)
		return set_cause(cause, "seal: %s is longer than %d bytes",
		    what, SEAL_MAX_AD_FIELD);
	return 0;
}

/* Builds the associated data into buf (SEAL_MAX_AD bytes); its length or 0. */
static size_t
build_ad(const struct seal_ad *ad, uint32_t key_id, unsigned char *buf,
    char **cause)
{
	unsigned char *p = buf;

	if (check_ad_field("tenant id", ad->tenant_id, cause) == -1 ||
	    check_ad_field("row id", ad->row_id, cause) == -1 ||
	    check_ad_field("column", ad->column, cause) == -1)
		return 0;
	p += put_field(p, SEAL_DOMAIN, strlen(SEAL_DOMAIN));
	*p++ = SEAL_VERSION;
	put_u32(p, key_id);
	p += 4;
	p += put_field(p, ad->tenant_id, strlen(ad->tenant_id));
	p += put_field(p, ad->row_id, strlen(ad->row_id));
	p += put_field(p, ad->column, strlen(ad->column));
	return (size_t)(p - buf);
}

/* ct and tag receive ptlen and SEAL_TAG_LEN bytes. */
static int
gcm_encrypt(const unsigned char *key, const unsigned char *nonce,
    const unsigned char *ad, size_t adlen, const unsigned char *pt,
    size_t ptlen, unsigned char *ct, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx;
	int n, good;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	good = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
	    EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)adlen) == 1 &&
	    (ptlen == 0 || EVP_EncryptUpdate(ctx, ct, &n, pt, (int)ptlen) == 1) &&
	    EVP_EncryptFinal_ex(ctx, ct + ptlen, &n) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return good ? 0 : -1;
}

/* pt receives ctlen bytes; -1 when the tag does not verify. */
static int
gcm_decrypt(const unsigned char *key, const unsigned char *nonce,
    const unsigned char *ad, size_t adlen, const unsigned char *ct,
    size_t ctlen, const unsigned char *tag, unsigned char *pt)
{
	unsigned char t[SEAL_TAG_LEN];
	EVP_CIPHER_CTX *ctx;
	int n, good;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	memcpy(t, tag, sizeof t);
	good = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)adlen) == 1 &&
	    (ctlen == 0 || EVP_DecryptUpdate(ctx, pt, &n, ct, (int)ctlen) == 1) &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof t, t) == 1 &&
	    EVP_DecryptFinal_ex(ctx, pt + ctlen, &n) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return good ? 0 : -1;
}

int
seal_seal(const struct keyring *kr, const struct seal_ad *ad, const void *pt,
    size_t ptlen, unsigned char **out, size_t *outlen, char **cause)
{
	unsigned char adbuf[SEAL_MAX_AD], *buf;
	uint32_t id = kr->newest;
	size_t adlen;

	if (ptlen > SEAL_MAX_PLAINTEXT)
		return set_cause(cause, "seal: plaintext of %zu bytes is longer "
		    "than %d", ptlen, SEAL_MAX_PLAINTEXT);
	if ((adlen = build_ad(ad, id, adbuf, cause)) == 0)
		return -1;
	buf = xmalloc(SEAL_OVERHEAD + ptlen);
	buf[0] = SEAL_VERSION;
	put_u32(buf + 1, id);
	random_bytes(buf + 5, SEAL_NONCE_LEN);
	if (gcm_encrypt(keyring_find(kr, id), buf + 5, adbuf, adlen, pt, ptlen,
	    buf + SEAL_HEADER_LEN, buf + SEAL_HEADER_LEN + ptlen) == -1) {
		free(buf);
		return set_cause(cause, "seal: AES-256-GCM encryption failed");
	}
	*out = buf;
	*outlen = SEAL_OVERHEAD + ptlen;
	return 0;
}

int
seal_key_id(const unsigned char *in, size_t inlen, uint32_t *id)
{
	if (inlen < SEAL_OVERHEAD || inlen > SEAL_OVERHEAD + SEAL_MAX_PLAINTEXT ||
	    in[0] != SEAL_VERSION)
		return -1;
	*id = get_u32(in + 1);
	return 0;
}

/* Checks the frame of a sealed value; its key or NULL. */
static const unsigned char *
open_key(const struct keyring *kr, const unsigned char *in, size_t inlen,
    char **cause)
{
	const unsigned char *key;
	uint32_t id;

	if (inlen < SEAL_OVERHEAD) {
		set_cause(cause, "sealed value is truncated (%zu bytes)", inlen);
		return NULL;
	}
	if (inlen > SEAL_OVERHEAD + SEAL_MAX_PLAINTEXT) {
		set_cause(cause, "sealed value is too long (%zu bytes)", inlen);
		return NULL;
	}
	if (in[0] != SEAL_VERSION) {
		set_cause(cause, "sealed value has unknown version %u", in[0]);
		return NULL;
	}
	id = get_u32(in + 1);
	if ((key = keyring_find(kr, id)) == NULL)
		set_cause(cause, "sealed value's key id %u is not in the keyring",
		    id);
	return key;
}

int
seal_open(const struct keyring *kr, const struct seal_ad *ad,
    const unsigned char *in, size_t inlen, unsigned char **pt, size_t *ptlen,
    char **cause)
{
	unsigned char adbuf[SEAL_MAX_AD], *buf;
	const unsigned char *key;
	size_t adlen, ctlen;

	if ((key = open_key(kr, in, inlen, cause)) == NULL)
		return -1;
	if ((adlen = build_ad(ad, get_u32(in + 1), adbuf, cause)) == 0)
		return -1;
	ctlen = inlen - SEAL_OVERHEAD;
	buf = xmalloc(ctlen + 1);
	if (gcm_decrypt(key, in + 5, adbuf, adlen, in + SEAL_HEADER_LEN, ctlen,
	    in + SEAL_HEADER_LEN + ctlen, buf) == -1) {
		secure_free(buf, ctlen + 1);
		return set_cause(cause, "sealed value does not open: it is "
		    "corrupt or belongs to another tenant, row or column");
	}
	buf[ctlen] = '\0';
	*pt = buf;
	*ptlen = ctlen;
	return 0;
}
