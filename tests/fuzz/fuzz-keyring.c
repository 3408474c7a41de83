/* SPDX-License-Identifier: ISC */
/* The keyring file parser on arbitrary bytes. */
#include "config.h"

#include <stdlib.h>

#include "fuzz.h"
#include "keyring.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyring *kr;
	char *cause = NULL;

	kr = keyring_parse((const char *)data, size, "fuzz", &cause);
	/* Exactly one of a keyring and a message. */
	if ((kr == NULL) == (cause == NULL))
		abort();
	if (kr != NULL && (keyring_newest_id(kr) == 0 ||
	    !keyring_has(kr, keyring_newest_id(kr))))
		abort();
	keyring_free(kr);
	free(cause);
	return 0;
}
