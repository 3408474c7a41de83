/* SPDX-License-Identifier: ISC */
/* The rally.conf parser on arbitrary bytes. */
#include "config.h"

#include <stdlib.h>

#include "conf.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;
	char *cause = NULL;

	if (conf_load_buffer((const char *)data, size, "fuzz.conf", &c,
	    &cause) == 0) {
		if (cause != NULL)
			abort();
		conf_clear(&c);
	} else if (cause == NULL)
		abort();
	free(cause);
	return 0;
}
