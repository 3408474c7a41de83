# SPDX-License-Identifier: ISC
"""pytest plugin: report each test as a TAP line for automake's tap-driver.

Loaded by tests/run-pytest with -p pytest_tap and -p no:terminal, so stdout
carries TAP only; a failure's traceback follows as '#' diagnostics.
"""

import sys

_count = 0
_failed = 0


def _emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def pytest_runtest_logreport(report):
    global _count, _failed
    # One line per test: its call phase, or the phase that stopped it.
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _count += 1
        name = report.nodeid.replace("#", "")
        if report.passed:
            _emit(f"ok {_count} - {name}")
        elif report.skipped:
            # A skip is a failure here: every test must run on every machine.
            _failed += 1
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            _emit(f"not ok {_count} - {name} (skipped: {reason})")
        else:
            _failed += 1
            _emit(f"not ok {_count} - {name}")
            for line in str(report.longrepr).splitlines()[-80:]:
                _emit("#   " + line)
    elif report.when == "teardown" and report.failed:
        _count += 1
        _failed += 1
        _emit(f"not ok {_count} - {report.nodeid} (teardown)")
        for line in str(report.longrepr).splitlines()[-40:]:
            _emit("#   " + line)


def pytest_collectreport(report):
    global _count, _failed
    if report.failed:
        _count += 1
        _failed += 1
        _emit(f"not ok {_count} - collecting {report.nodeid}")
        for line in str(report.longrepr).splitlines()[-40:]:
            _emit("#   " + line)


def pytest_sessionfinish(session, exitstatus):
    _emit(f"1..{_count}")


def pytest_addoption(parser):
    # The terminal plugin is off (stdout is TAP), but pytest's assertion
    # rewriting still asks for the verbosity it would have registered.
    group = parser.getgroup("tap")
    group.addoption("--tap-verbose", action="count", default=0, dest="verbose")
