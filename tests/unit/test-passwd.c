/* SPDX-License-Identifier: ISC */
/* passwd: argon2id PHC strings, verification, limits and upgrades. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <argon2.h>

#include "passwd.h"
#include "tap.h"

static const struct passwd_params floor_params = { 19456, 2, 1 };

/* The argon2 reference implementation's argon2id test vector (m=64 MiB). */
static const char kat[] =
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$"
    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";

static void
test_hash_and_verify(void)
{
	char *phc = NULL, *phc2 = NULL, *cause = NULL;

	ok(passwd_hash("correct horse", &floor_params, &phc, &cause) == 0,
	    "a password hashes at the design minimum parameters");
	if (phc == NULL)
		return;
	ok(strncmp(phc, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0,
	    "the PHC string names argon2id, version 19 and the parameters");
	ok(strlen(phc) == 31 + 22 + 1 + 43, "salt is 16 bytes and hash 32 (unpadded base64)");
	ok(passwd_verify(phc, "correct horse") == 1, "the right password verifies");
	ok(passwd_verify(phc, "correct horsf") == 0, "a wrong password does not");
	ok(passwd_verify(phc, "") == 0, "an empty password does not");
	ok(argon2_verify(phc, "correct horse", 13, Argon2_id) == ARGON2_OK,
	    "libargon2's own verifier accepts the PHC string");
	ok(passwd_hash("correct horse", &floor_params, &phc2, &cause) == 0 &&
	    strcmp(phc, phc2) != 0, "hashing twice gives different salts");
	ok(!passwd_needs_rehash(phc, &floor_params),
	    "a hash at the configured parameters needs no rehash");
	free(phc);
	free(phc2);
}

static void
test_known_answer(void)
{
	ok(passwd_verify(kat, "password") == 1,
	    "the argon2id reference vector verifies");
	ok(passwd_verify(kat, "Password") == 0,
	    "the reference vector rejects another password");
}

static void
test_argon2i_is_upgraded(void)
{
	char phc[256];

	if (argon2i_hash_encoded(2, 19456, 1, "pw", 2, "saltsaltsaltsalt", 16, 32,
	    phc, sizeof phc) != ARGON2_OK) {
		ok(0, "libargon2 makes an argon2i hash");
		return;
	}
	ok(passwd_verify(phc, "pw") == 1, "an argon2i hash still verifies");
	ok(passwd_needs_rehash(phc, &floor_params),
	    "an argon2i hash needs a rehash even at the same parameters");
}

static void
test_needs_rehash(void)
{
	static const char m19[] = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$"
	    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
	static const struct passwd_params same = { 65536, 2, 1 };
	static const struct passwd_params more_m = { 65536, 2, 1 };
	static const struct passwd_params more_t = { 65536, 3, 1 };
	static const struct passwd_params more_p = { 65536, 2, 2 };

	ok(!passwd_needs_rehash(kat, &same), "a hash at the configured parameters needs no rehash");
	ok(!passwd_needs_rehash(kat, &floor_params),
	    "a hash above the configured parameters needs no rehash");
	ok(passwd_needs_rehash(m19, &more_m), "memory below the configured needs a rehash");
	ok(passwd_needs_rehash(kat, &more_t), "iterations below the configured need a rehash");
	ok(passwd_needs_rehash(kat, &more_p), "parallelism below the configured needs a rehash");
	ok(passwd_needs_rehash("garbage", &floor_params), "a malformed hash needs a rehash");
}

static void
test_bad_params(void)
{
	static const struct passwd_params low_m = { 19455, 2, 1 };
	static const struct passwd_params low_t = { 19456, 1, 1 };
	static const struct passwd_params no_p = { 19456, 2, 0 };
	static const struct passwd_params huge_m = { 4194305, 2, 1 };
	char *phc = NULL, *cause = NULL;

	ok(passwd_hash("pw", &low_m, &phc, &cause) == -1 &&
	    strstr(cause, "outside") != NULL, "m below 19 MiB is refused");
	free(cause);
	ok(passwd_hash("pw", &low_t, &phc, &cause) == -1, "t below 2 is refused");
	free(cause);
	ok(passwd_hash("pw", &no_p, &phc, &cause) == -1, "p of 0 is refused");
	free(cause);
	ok(passwd_hash("pw", &huge_m, &phc, &cause) == -1, "m above 4 GiB is refused");
	free(cause);
	ok(phc == NULL, "no PHC string is returned on error");
}

static void
test_password_length(void)
{
	char *pw = xmalloc(PASSWD_MAX_LEN + 2), *phc = NULL, *cause = NULL;

	memset(pw, 'x', PASSWD_MAX_LEN + 1);
	pw[PASSWD_MAX_LEN + 1] = '\0';
	ok(passwd_hash(pw, &floor_params, &phc, &cause) == -1 &&
	    strstr(cause, "longer than 1024 bytes") != NULL && strstr(cause, "xxx") == NULL,
	    "a 1025-byte password is refused without being quoted");
	free(cause);
	ok(passwd_verify(kat, pw) == -1, "verification refuses it too");
	pw[PASSWD_MAX_LEN] = '\0';
	ok(passwd_hash(pw, &floor_params, &phc, &cause) == 0 &&
	    passwd_verify(phc, pw) == 1, "a 1024-byte password works");
	free(phc);
	free(pw);
}

static void
test_malformed_phc(void)
{
	static const struct {
		const char *phc, *why;
	} bad[] = {
		{ "", "an empty string" },
		{ "$argon2id$", "a string with only the algorithm" },
		{ "$argon2d$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "argon2d (unsupported)" },
		{ "$scrypt$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "another algorithm" },
		{ "$argon2id$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "a missing version" },
		{ "$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "version 16" },
		{ "$argon2id$v=19$t=2,m=65536,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "parameters out of order" },
		{ "$argon2id$v=19$m=4194305,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "memory above 4 GiB" },
		{ "$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "memory overflowing 32 bits" },
		{ "$argon2id$v=19$m=65536,t=101,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "more than 100 iterations" },
		{ "$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "zero iterations" },
		{ "$argon2id$v=19$m=65536,t=2,p=0$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "zero parallelism" },
		{ "$argon2id$v=19$m=8,t=2,p=2$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "memory below 8 KiB per lane" },
		{ "$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "a leading zero" },
		{ "$argon2id$v=19$m=+65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "a sign" },
		{ "$argon2id$v=19$m=65536,t=2,p=1,keyid=AA$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "an extra parameter" },
		{ "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ=$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "a padded salt" },
		{ "$argon2id$v=19$m=65536,t=2,p=1$c29tZQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "a 4-byte salt" },
		{ "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMa",
		    "a 12-byte hash" },
		{ "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc$",
		    "a trailing '$'" },
		{ "$argon2id$v=19$m=65536,t=2,p=1$c29t*XNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		    "a salt outside the alphabet" },
		{ "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ",
		    "a missing hash" },
	};
	char longer[PASSWD_MAX_PHC + 64];

	for (size_t i = 0; i < nitems(bad); i++)
		ok(passwd_verify(bad[i].phc, "password") == -1,
		    "verify rejects %s", bad[i].why);
	ok(passwd_verify(NULL, "password") == -1, "verify rejects a NULL hash");
	snprintf(longer, sizeof longer, "%s%0*d", kat, (int)(PASSWD_MAX_PHC - strlen(kat) + 1), 0);
	ok(passwd_verify(longer, "password") == -1,
	    "verify rejects a string longer than %d bytes", PASSWD_MAX_PHC);
	ok(passwd_needs_rehash(bad[2].phc, &floor_params), "argon2d needs a rehash");
}

int
main(void)
{
	test_hash_and_verify();
	test_known_answer();
	test_argon2i_is_upgraded();
	test_needs_rehash();
	test_bad_params();
	test_password_length();
	test_malformed_phc();
	return tap_done();
}
