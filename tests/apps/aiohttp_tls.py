"""aiohttp's own TLS tests, on PyLoop and on stock asyncio: the same
passed/failed/skipped counts, and no test that passes on asyncio and fails
on PyLoop.

aiohttp's sdist (PyPI) carries its tests/; this downloads it with pip (the
aiohttp version installed here, from tests/apps/requirements.txt), unpacks
tests/ and pytest.ini into a temporary directory, and runs pytest there
twice against the INSTALLED aiohttp, through aiohttp_loop_plugin.py (next to
this file): once with AIOHTTP_TEST_LOOP=asyncio, once with pyloop. The tests
run are aiohttp's TLS tests (the plugin's is_tls_test: the ones that use a
TLS fixture of aiohttp's conftest, or say ssl/tls/https in their name).
aiohttp's pytest.ini is kept except its addopts (xdist, coverage,
doctests): its filterwarnings = error and timeout = 120 hold on both loops.

Needs pip, pytest and the test dependencies pinned in
tests/apps/requirements.txt. Run by check_apps.py (make check-apps), or
alone: python3 tests/apps/aiohttp_tls.py [--keep DIR]. Exit status 0 when the
two runs agree and nothing failed on PyLoop that passed on asyncio.
"""

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))


def aiohttp_version():
    from importlib.metadata import version
    return version("aiohttp")


def fetch_tests(version, directory):
    """Download aiohttp's sdist and unpack its tests/ and pytest.ini into
    directory; returns the unpacked root."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
         "-q", "--no-binary", ":all:", "--no-deps", "-d", directory,
         "aiohttp==%s" % version], check=True)
    name = "aiohttp-%s.tar.gz" % version
    root = os.path.join(directory, "aiohttp-%s" % version)
    with tarfile.open(os.path.join(directory, name)) as sdist:
        members = [m for m in sdist.getmembers()
                   if m.name.startswith(("aiohttp-%s/tests/" % version,
                                         "aiohttp-%s/pytest.ini" % version))]
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        sdist.extractall(directory, members=members, **kwargs)
    return root


def run_pytest(root, loop, report):
    """pytest on the unpacked tests with AIOHTTP_TEST_LOOP=loop; returns
    {test id: outcome} from its junit XML, and pytest's last lines."""
    env = dict(os.environ)
    env["AIOHTTP_TEST_LOOP"] = loop
    env["AIOHTTP_TEST_SELECT"] = "tls"
    env["PYTHONPATH"] = os.pathsep.join(
        [HERE] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    # -p no:cacheprovider: nothing written into the tree; -o addopts=:
    # not aiohttp's xdist/coverage/doctest options.
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-p",
         "aiohttp_loop_plugin", "-p", "no:cacheprovider", "-q", "-rfEs",
         "--junitxml", report,
         # Not TLS, and not runnable here: codspeed benchmarks, autobahn
         # (docker).
         "--ignore-glob", "tests/test_benchmarks_*.py",
         "--ignore", "tests/autobahn", "tests"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True)
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test = "%s::%s" % (case.get("classname"), case.get("name"))
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                break
            if child.tag == "skipped":
                outcome = "skipped"
        # A test that failed in its call and again in teardown appears
        # twice: the worse outcome counts.
        if outcomes.get(test) != "failed":
            outcomes[test] = outcome
    return outcomes, proc


def count(outcomes):
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for outcome in outcomes.values():
        counts[outcome] += 1
    return counts


def tail(text, lines=30):
    return "\n".join(text.splitlines()[-lines:])


def check(directory):
    """Returns (ok, summary lines)."""
    version = aiohttp_version()
    root = fetch_tests(version, directory)
    runs = {}
    for loop in ("asyncio", "pyloop"):
        outcomes, proc = run_pytest(
            root, loop, os.path.join(directory, "%s.xml" % loop))
        runs[loop] = outcomes
        made = [line for line in proc.stdout.splitlines()
                if line.startswith("loops made")]
        print("  aiohttp %s TLS tests on %s: %s; %s" % (
            version, loop, ", ".join("%d %s" % (n, k) for k, n in
                                     count(outcomes).items()),
            made[-1] if made else "no loop summary"))
        if proc.returncode not in (0, 1):
            print("  pytest exited with %d:\n%s" % (proc.returncode,
                                                   tail(proc.stdout)))
            return False, "pytest exited with %d on %s" % (
                proc.returncode, loop)
        if loop == "pyloop" and "PyLoop" not in (made[-1] if made else ""):
            return False, "the pyloop run made no PyLoop"
        if count(outcomes)["failed"]:
            print(tail(proc.stdout, 60))
    asyncio_runs, pyloop_runs = runs["asyncio"], runs["pyloop"]
    worse = sorted(t for t, o in asyncio_runs.items()
                   if o == "passed" and pyloop_runs.get(t) != "passed")
    differ = sorted(t for t in set(asyncio_runs) | set(pyloop_runs)
                    if asyncio_runs.get(t) != pyloop_runs.get(t))
    for test in differ:
        print("  %s: asyncio %s, PyLoop %s" % (
            test, asyncio_runs.get(test), pyloop_runs.get(test)))
    if not asyncio_runs:
        return False, "no TLS test ran"
    summary = "aiohttp %s: %d TLS tests, asyncio %s, PyLoop %s" % (
        version, len(asyncio_runs), count(asyncio_runs), count(pyloop_runs))
    if worse or differ:
        return False, summary + "; %d pass on asyncio only, %d differ" % (
            len(worse), len(differ))
    return True, summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="work in this directory, kept")
    args = parser.parse_args()
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        ok, summary = check(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="aiohttp-tls-") as directory:
            ok, summary = check(directory)
    print(("PASS " if ok else "FAIL ") + summary)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
