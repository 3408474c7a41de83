# SPDX-License-Identifier: ISC
"""fakegoogle: an in-memory emulator of the Google OAuth, Calendar v3 and Gmail v1 endpoints
Rally uses, for tests and benchmarks. Standard library only; see ../README.md."""
