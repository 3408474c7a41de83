# SPDX-License-Identifier: ISC
"""tools/demo, as a newcomer starts it: tools/demo.py --smoke brings up the
web front end with the emulator as Google and the seeded account, signs in
with the demo sign-in it prints, connects Google from the Integrations page
through the emulator's consent (where the build has that page), waits for
the first sync and stops; the tour stays behind --tour."""

import os
import subprocess
import sys

from rallytest import BUILDDIR, SRCDIR

DEMO = str(SRCDIR / "tools" / "demo.py")


def run(*args, timeout=240):
    env = dict(os.environ, abs_top_builddir=str(BUILDDIR), abs_top_srcdir=str(SRCDIR))
    return subprocess.run([sys.executable, DEMO, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_demo_serves_the_front_end_and_the_demo_sign_in_works():
    r = run("--smoke", "--port", "0")
    assert r.returncode == 0, r.stdout + r.stderr
    line = [x for x in r.stdout.splitlines() if x.startswith("demo: signed in at")]
    assert line, r.stdout
    synced = line[0].rsplit(";", 1)[1]
    activities, messages = (int(w) for w in synced.split() if w.isdigit())
    assert activities > 0 and messages > 0, line


def test_the_tour_stays_behind_a_flag():
    r = run("--help", timeout=30)
    assert r.returncode == 0 and "--tour" in r.stdout and "--smoke" in r.stdout
