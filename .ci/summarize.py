#!/usr/bin/env python3
"""Sums the test results of every suite a CI run executed, from their logs.

Reads Check closing lines ("100%: Checks: N, Failures: F, Errors: E"), the
line each Check suite prints after it for the tests that do not apply to the
build and were not registered ("loop: N skipped: test_a (needs native), ...":
Check counts only what it ran, so such a test is reported here instead of
passing vacuously), unittest's ("Ran N tests" + "OK"/"FAILED (failures=F,
errors=E, skipped=S)") and the project's own runners' ("N passed, N failed").
Prints one line per log and, last, "N passed, N failed" over all of them.
"""
import re
import sys

CHECK = re.compile(r"^\d+%: Checks: (\d+), Failures: (\d+), Errors: (\d+)")
UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in")
UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \((.*)\))?$")
CHECK_SKIPPED = re.compile(r"^[a-z_]+: (\d+) skipped(?:: .*)?$")
PLAIN = re.compile(r"^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")


def count(path):
    passed = failed = skipped = 0
    seen = False
    ran = None
    with open(path, errors="replace") as log:
        for line in log:
            line = line.rstrip("\n")
            match = CHECK.match(line)
            if match:
                total, failures, errors = map(int, match.groups())
                passed += total - failures - errors
                failed += failures + errors
                seen = True
                continue
            match = CHECK_SKIPPED.match(line)
            if match:
                skipped += int(match.group(1))
                seen = True
                continue
            match = UNITTEST_RAN.match(line)
            if match:
                ran = int(match.group(1))
                continue
            match = UNITTEST_END.match(line)
            if match and ran is not None:
                details = dict(
                    (key.strip(), int(value))
                    for key, value in (item.split("=") for item in (match.group(2) or "").split(",") if "=" in item)
                )
                bad = details.get("failures", 0) + details.get("errors", 0) + details.get("unexpected successes", 0)
                skip = details.get("skipped", 0) + details.get("expected failures", 0)
                passed += ran - bad - skip
                failed += bad
                skipped += skip
                ran = None
                seen = True
                continue
            match = PLAIN.match(line)
            if match:
                passed += int(match.group(1))
                failed += int(match.group(2))
                skipped += int(match.group(3) or 0)
                seen = True
    return seen, passed, failed, skipped


def main(arguments):
    extra_failed = 0
    if arguments[:1] == ["--failed-steps"]:
        extra_failed = int(arguments[1])
        arguments = arguments[2:]
    paths = arguments
    total_passed = total_skipped = 0
    total_failed = extra_failed
    if extra_failed:
        print(f"  {extra_failed} CI step(s) failed (counted as failures)")
    for path in paths:
        seen, passed, failed, skipped = count(path)
        if not seen:
            continue
        total_passed += passed
        total_failed += failed
        total_skipped += skipped
        print(f"  {path}: {passed} passed, {failed} failed, {skipped} skipped")
    print(f"{total_passed} passed, {total_failed} failed, {total_skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
