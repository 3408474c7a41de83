# SPDX-License-Identifier: ISC
"""What an operator installs besides the programs: the systemd unit, the
sysusers.d and tmpfiles.d entries, the journal message catalog, the
manual pages and the SQL (migrations and functions).  Each is installed with `make install DESTDIR=...` and then
checked by the tool that consumes it (systemd-analyze, systemd-sysusers,
systemd-tmpfiles, journalctl, groff, mandoc, man), so a test fails the way
the file would fail on a real host."""

import os
import re
import shutil
import subprocess

import pytest

from rallytest import BUILDDIR, SRCDIR

MAN_PAGES = ["rallyd.8", "rallyctl.8", "rally.cgi.8", "rally.conf.5"]
# Fields an entry may carry (lib/log.c); a catalog text may name only these.
JOURNAL_FIELDS = {
    "MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER",
    "RALLY_TENANT", "RALLY_CONNECTION", "RALLY_JOB",
}
INSTALL_DIRS = [
    "sbindir", "sysconfdir", "mandir", "systemdsystemunitdir", "sysusersdir",
    "tmpfilesdir", "catalogdir", "pkgdatadir",
]


def make_env():
    """The environment for a nested make: no jobserver of a make above us."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR"):
        env.pop(k, None)
    return env


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=600,
                          **kw)


def make(*args, stdin=None):
    r = run(["make", "-s", "-C", str(BUILDDIR), *args], input=stdin,
            env=make_env())
    assert r.returncode == 0, f"make {' '.join(args)} failed:\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def dirs():
    """Install directories as configured, expanded by make itself."""
    rule = "rally-print-dirs:\n" + "".join(
        f"\t@echo '{d}=$({d})'\n" for d in INSTALL_DIRS)
    out = make("-f", "Makefile", "-f", "-", "rally-print-dirs", stdin=rule)
    found = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert set(found) == set(INSTALL_DIRS), out
    return found


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("destdir")
    make("install", f"DESTDIR={root}")
    return root


def installed(destdir, dirs, dirname, name):
    return destdir / dirs[dirname].lstrip("/") / name


@pytest.fixture(scope="module")
def unit_path(destdir, dirs):
    return installed(destdir, dirs, "systemdsystemunitdir", "rallyd.service")


def unit_settings(path):
    """Settings of a unit file as {key: [values]}, comments dropped."""
    settings = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def seconds(timespan):
    """A systemd time span such as 30s, 1min 30s or 90 as seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "d": 86400}
    total = 0
    for num, unit in re.findall(r"(\d+)\s*([a-z]*)", timespan):
        total += int(num) * units[unit]
    return total


def conf_keys():
    """(section, key, type, default) for every row of lib/conf.c's table."""
    src = (SRCDIR / "lib/conf.c").read_text()
    table = re.search(r"conf_key keys\[\] = \{(.*?)\n\};", src, re.S).group(1)
    rows = [line for line in table.splitlines()
            if re.match(r"\s*[A-Z]\(", line)]
    pattern = re.compile(
        r'\s*([SN])\("(\w+)",\s*"(\w+)",\s*(?:(T_[A-Z]+),)?.*"([^"]*)"\),?$')
    keys = []
    for row in rows:
        m = pattern.match(row)
        assert m, f"cannot read this row of lib/conf.c's key table: {row}"
        _, section, name, ctype, default = m.groups()
        keys.append((section, name, ctype or "T_STRING", default))
    assert len(keys) >= 30, "lib/conf.c's key table was not found whole"
    return keys


def msgids():
    src = (SRCDIR / "lib/msgid.h").read_text()
    ids = re.findall(r'#define\s+(MSGID_\w+)\s+"([0-9a-f]{32})"', src)
    assert ids, "no MSGID_ in lib/msgid.h"
    return dict(ids)


def catalog_entries(text):
    """[(id, headers, body)] of a catalog(7) source."""
    entries = []
    for block in re.split(r"^-- ", text, flags=re.M)[1:]:
        head, _, rest = block.partition("\n")
        header_text, _, body = rest.partition("\n\n")
        headers = dict(line.split(": ", 1) for line in header_text.splitlines())
        entries.append((head.strip(), headers, body.strip()))
    return entries


# --- the unit ----------------------------------------------------------------

def test_unit_runs_rallyd_as_notify_service_with_configured_paths(unit_path, dirs):
    s = unit_settings(unit_path)
    etc = dirs["sysconfdir"] + "/rally"
    assert s["ExecStart"] == [f"{dirs['sbindir']}/rallyd -c {etc}/rally.conf"]
    assert s["Type"] == ["notify"]
    assert s["NotifyAccess"] == ["main"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["WatchdogSec"] == ["30s"]
    assert s["Restart"] == ["on-failure"]
    assert s["User"] == ["rally"] and s["Group"] == ["rally"]
    assert sorted(s["LoadCredential"]) == sorted(
        [f"backup-key:{etc}/backup-key", f"keyring:{etc}/keyring"])
    assert s["StateDirectory"] == ["rally"]
    assert not re.search(r"@\w+@", unit_path.read_text()), \
        "an @variable@ was not substituted"


def test_unit_does_not_restart_on_bad_configuration(unit_path):
    # rallyd exits 78 (EX_CONFIG) when the file or keyring is wrong.
    assert unit_settings(unit_path)["RestartPreventExitStatus"] == ["78"]


def test_unit_stop_timeout_exceeds_daemon_shutdown_timeout(unit_path):
    default = {(sec, key): d for sec, key, _, d in conf_keys()}
    shutdown = seconds(default[("daemon", "shutdown_timeout")])
    stop = seconds(unit_settings(unit_path)["TimeoutStopSec"][0])
    assert stop >= shutdown + 10, (stop, shutdown)


def test_unit_passes_systemd_analyze_verify(unit_path, destdir, dirs, tmp_path):
    # verify wants ExecStart= to exist and each Documentation= page to be
    # found by man: point both at the DESTDIR install, change nothing else.
    text = unit_path.read_text()
    exec_start = f"ExecStart={dirs['sbindir']}/rallyd "
    assert exec_start in text
    binary = installed(destdir, dirs, "sbindir", "rallyd")
    assert os.access(binary, os.X_OK)
    unit = tmp_path / "rallyd.service"
    unit.write_text(text.replace(exec_start, f"ExecStart={binary} "))
    env = dict(os.environ,
               MANPATH=str(destdir / dirs["mandir"].lstrip("/")))
    r = run(["systemd-analyze", "verify", str(unit)], env=env)
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr


def test_unit_security_exposure_is_at_most_2(unit_path):
    r = run(["systemd-analyze", "security", "--offline=true", "--no-pager",
             str(unit_path)])
    m = re.search(r"Overall exposure level for rallyd\.service: (\d+\.\d+)",
                  r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_unit_sandbox_leaves_what_rallyd_needs(unit_path):
    s = unit_settings(unit_path)
    # TCP to PostgreSQL, Google and SMTP; AF_UNIX for the PostgreSQL
    # socket, journald and sd_notify.
    assert set(s["RestrictAddressFamilies"][0].split()) == {
        "AF_UNIX", "AF_INET", "AF_INET6"}
    assert "PrivateNetwork" not in s and "IPAddressDeny" not in s
    # Read-only system, writable state directory; @sysconfdir@ readable.
    assert s["ProtectSystem"] == ["strict"]
    assert "ReadWritePaths" not in s and "InaccessiblePaths" not in s
    # pg_dump is exec'd for backups: @process (execve) must stay allowed.
    filters = " ".join(s["SystemCallFilter"])
    assert "@system-service" in filters and "@process" not in filters


# --- sysusers.d and tmpfiles.d -------------------------------------------------

@pytest.fixture(scope="module")
def sysroot(tmp_path_factory, destdir, dirs):
    """A root with the rally user created by sysusers and dirs by tmpfiles."""
    root = tmp_path_factory.mktemp("sysroot")
    (root / "etc").mkdir()
    sysusers = installed(destdir, dirs, "sysusersdir", "rally.conf")
    tmpfiles = installed(destdir, dirs, "tmpfilesdir", "rally.conf")
    r = run(["systemd-sysusers", f"--root={root}", str(sysusers)])
    assert r.returncode == 0, r.stderr
    r = run(["systemd-tmpfiles", f"--root={root}", "--create", str(tmpfiles)])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return root


def passwd_entry(root, name):
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    return None


def test_sysusers_entry_creates_rally_system_user(sysroot):
    user = passwd_entry(sysroot, "rally")
    assert user is not None
    _, _, uid, gid, _, home, shell = user
    assert int(uid) < 1000, "not a system user"
    assert home == "/var/lib/rally"
    assert shell.endswith("nologin")
    groups = [line.split(":") for line in
              (sysroot / "etc/group").read_text().splitlines()]
    assert ["rally", "x", gid, ""] in groups


@pytest.mark.parametrize("path, mode, owner", [
    ("/var/lib/rally", 0o750, "rally"),
    ("/var/lib/rally/backups", 0o700, "rally"),
    ("@sysconfdir@/rally", 0o750, "root"),
], ids=["state", "backups", "config"])
def test_tmpfiles_entry_creates_directories(sysroot, dirs, path, mode, owner):
    path = path.replace("@sysconfdir@", dirs["sysconfdir"])
    st = (sysroot / path.lstrip("/")).stat()
    _, _, uid, gid, *_ = passwd_entry(sysroot, "rally")
    assert oct(st.st_mode & 0o7777) == oct(mode)
    assert st.st_uid == (0 if owner == "root" else int(uid))
    assert st.st_gid == int(gid), "group must be rally"


# --- the journal catalog -------------------------------------------------------

def test_catalog_has_exactly_the_message_ids_of_msgid_h():
    ids = list(msgids().values())
    assert len(ids) == len(set(ids)), "a MESSAGE_ID is defined twice"
    entries = catalog_entries((SRCDIR / "systemd/rallyd.catalog").read_text())
    catalogued = [e[0] for e in entries]
    assert len(catalogued) == len(set(catalogued)), "an entry is repeated"
    assert set(catalogued) == set(ids)


def test_catalog_entries_tell_the_operator_what_happened_and_what_to_do():
    text = (SRCDIR / "systemd/rallyd.catalog").read_text()
    for msgid, headers, body in catalog_entries(text):
        assert headers.get("Subject"), msgid
        assert headers.get("Defined-By") == "rally", msgid
        assert headers.get("Support"), msgid
        assert "man:rallyd(8)" in headers.get("Documentation", ""), msgid
        assert set(headers) <= {"Subject", "Defined-By", "Support",
                                "Documentation"}, msgid
        # At least two paragraphs: what happened, then what to do.
        assert body.count("\n\n") >= 1, msgid
        for field in re.findall(r"@([A-Z_]+)@", body):
            assert field in JOURNAL_FIELDS, (msgid, field)


def test_catalog_compiles_with_journalctl(destdir, dirs, tmp_path):
    installed_catalog = installed(destdir, dirs, "catalogdir", "rallyd.catalog")
    catdir = tmp_path / "usr/lib/systemd/catalog"
    catdir.mkdir(parents=True)
    shutil.copy(installed_catalog, catdir / "rallyd.catalog")
    r = run(["journalctl", f"--root={tmp_path}", "--update-catalog"])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert (tmp_path / "var/lib/systemd/catalog/database").stat().st_size > 0
    r = run(["journalctl", f"--root={tmp_path}", "--list-catalog"])
    assert r.returncode == 0, r.stderr
    listed = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    entries = catalog_entries(installed_catalog.read_text())
    assert set(listed) == set(msgids().values())
    for msgid, headers, _ in entries:
        assert listed[msgid] == f"rally: {headers['Subject']}"


# --- manual pages ----------------------------------------------------------------

@pytest.mark.parametrize("page", MAN_PAGES)
def test_man_page_renders_without_warnings(page):
    path = str(SRCDIR / "man" / page)
    r = run(["groff", "-mandoc", "-ww", "-z", "-Tutf8", path])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = run(["mandoc", "-T", "lint", "-W", "warning", path])
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr
    r = run(["man", "--warnings", "-l", path],
            env=dict(os.environ, MANWIDTH="80"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = re.sub(".\b", "", r.stdout)  # overstrike bold and underline
    assert "\nNAME\n" in text and "\nSEE ALSO\n" in text


@pytest.mark.parametrize("page", MAN_PAGES)
def test_man_page_is_installed_in_its_section(destdir, dirs, page):
    section = page.rsplit(".", 1)[1]
    path = installed(destdir, dirs, "mandir", f"man{section}/{page}")
    assert path.read_text() == (SRCDIR / "man" / page).read_text()


def test_functions_are_installed_beside_the_migrations(destdir, dirs):
    """rallyctl migrate and status find them there by default
    (db_functions_dir()), and record the digest the tree's files have."""
    from rallytest.schema import functions_digest, scan_functions
    share = installed(destdir, dirs, "pkgdatadir", "")
    assert (share / "migrations").is_dir()
    tree = scan_functions(str(SRCDIR / "sql" / "functions"))
    got = scan_functions(str(share / "functions"))
    assert [os.path.basename(p) for p in got] == [os.path.basename(p) for p in tree]
    assert functions_digest(got) == functions_digest(tree)


def man_sections(text):
    """{section: troff source of its .Ss [section] block} of rally.conf.5."""
    keys_part = text.split(".Sh SECTIONS AND KEYS", 1)[1].split("\n.Sh ", 1)[0]
    blocks = re.split(r"^\.Ss \[(\w+)\]$", keys_part, flags=re.M)
    return dict(zip(blocks[1::2], blocks[2::2]))


def test_rally_conf_5_documents_every_key_with_type_and_default():
    text = (SRCDIR / "man/rally.conf.5").read_text()
    sections = man_sections(text)
    type_word = {"T_STRING": "string", "T_INT": "integer",
                 "T_DURATION": "duration", "T_SIZE": "size"}
    documented = set()
    for section, block in sections.items():
        items = re.split(r"^\.It Cm (\w+) Li = Ar (\w+)$", block, flags=re.M)
        for name, word, desc in zip(items[1::3], items[2::3], items[3::3]):
            documented.add((section, name, word,
                            desc.replace("\\-", "-").replace("\\&", "")))
    by_key = {(s, n): (w, d) for s, n, w, d in documented}
    for section, name, ctype, default in conf_keys():
        assert (section, name) in by_key, f"{section}.{name} is not documented"
        word, desc = by_key[(section, name)]
        assert word == type_word[ctype], f"{section}.{name}: type {word}"
        tail = desc.split("Default:", 1)
        assert len(tail) == 2, f"{section}.{name}: no default given"
        want = "empty" if default == "" else f".Ql {default} ."
        assert tail[1].strip().startswith(want), f"{section}.{name}: {tail[1]}"
    stale = set(by_key) - {(s, n) for s, n, _, _ in conf_keys()}
    assert not stale, f"documented but not in lib/conf.c: {stale}"


def test_rallyd_8_lists_every_message_id():
    text = (SRCDIR / "man/rallyd.8").read_text()
    for name, msgid in msgids().items():
        assert f"{name.removeprefix('MSGID_')}\n{msgid}:" in text, name
