/* SPDX-License-Identifier: ISC */
/*
 * fuzz.h: the entry point every fuzz target defines.  Each target is built
 * twice: with libFuzzer (--enable-fuzzing, clang) to explore, and with
 * standalone.c to replay its seed corpus under "make check".
 */
#ifndef RALLY_FUZZ_H
#define RALLY_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
