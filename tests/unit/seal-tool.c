/* SPDX-License-Identifier: ISC */
/*
 * seal-tool: lets the integration tests seal and open values the way rallyd
 * does, to seed sealed columns and to check what "rallyctl keys rotate"
 * left behind.  Values cross stdin/stdout in hex.  Test-only, not installed.
 *
 *	seal-tool seal KEYRING TENANT ROW COLUMN < plaintext > hex
 *	seal-tool open KEYRING TENANT ROW COLUMN < hex > plaintext
 *	seal-tool keyid < hex > decimal key id
 *
 * Exits 0 on success, 1 when a value does not open or is malformed, 64 on
 * bad usage.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"
#include "util.h"

#define MAX_INPUT (4 * SEAL_MAX_PLAINTEXT)

static unsigned char *
read_all(size_t *len)
{
	unsigned char *buf = xmalloc(MAX_INPUT + 1);

	*len = fread(buf, 1, MAX_INPUT + 1, stdin);
	if (*len > MAX_INPUT) {
		fprintf(stderr, "seal-tool: input too long\n");
		exit(1);
	}
	return buf;
}

static unsigned char *
read_hex(size_t *len)
{
	size_t n;
	unsigned char *text = read_all(&n), *out;

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
		n--;
	if (n % 2 != 0) {
		fprintf(stderr, "seal-tool: odd hex length\n");
		exit(1);
	}
	out = xmalloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf((const char *)text + 2 * i, "%2x", &v) != 1) {
			fprintf(stderr, "seal-tool: bad hex\n");
			exit(1);
		}
		out[i] = v;
	}
	free(text);
	*len = n / 2;
	return out;
}

static struct keyring *
load(const char *path)
{
	char *cause = NULL;
	struct keyring *kr = keyring_load(path, &cause);

	if (kr == NULL) {
		fprintf(stderr, "seal-tool: %s\n", cause);
		exit(1);
	}
	return kr;
}

static int
do_seal(char **argv)
{
	struct seal_ad ad = { argv[1], argv[2], argv[3] };
	struct keyring *kr = load(argv[0]);
	unsigned char *pt, *out;
	size_t ptlen, outlen;
	char *cause = NULL;

	pt = read_all(&ptlen);
	if (seal_seal(kr, &ad, pt, ptlen, &out, &outlen, &cause) == -1) {
		fprintf(stderr, "seal-tool: %s\n", cause);
		return 1;
	}
	for (size_t i = 0; i < outlen; i++)
		printf("%02x", out[i]);
	printf("\n");
	free(out);
	free(pt);
	keyring_free(kr);
	return 0;
}

static int
do_open(char **argv)
{
	struct seal_ad ad = { argv[1], argv[2], argv[3] };
	struct keyring *kr = load(argv[0]);
	unsigned char *in, *pt;
	size_t inlen, ptlen;
	char *cause = NULL;

	in = read_hex(&inlen);
	if (seal_open(kr, &ad, in, inlen, &pt, &ptlen, &cause) == -1) {
		fprintf(stderr, "seal-tool: %s\n", cause);
		return 1;
	}
	fwrite(pt, 1, ptlen, stdout);
	secure_free(pt, ptlen);
	free(in);
	keyring_free(kr);
	return 0;
}

static int
do_keyid(void)
{
	size_t inlen;
	unsigned char *in = read_hex(&inlen);
	uint32_t id;

	if (seal_key_id(in, inlen, &id) == -1) {
		fprintf(stderr, "seal-tool: malformed sealed value\n");
		return 1;
	}
	printf("%u\n", id);
	free(in);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "seal") == 0)
		return do_seal(argv + 2);
	if (argc == 6 && strcmp(argv[1], "open") == 0)
		return do_open(argv + 2);
	if (argc == 2 && strcmp(argv[1], "keyid") == 0)
		return do_keyid();
	fprintf(stderr, "usage: seal-tool seal|open KEYRING TENANT ROW COLUMN\n"
	    "       seal-tool keyid\n");
	return 64;
}
