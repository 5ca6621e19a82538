#!/usr/bin/env bash
# The one test command: builds, runs every test project against real servers, prints "N passed, N failed, N skipped".
#   infra/test.sh                 everything
#   infra/test.sh Outbox.Tests    one or more test projects by name
# Servers: RELIABLESHOP_* variables if set; else Docker (Testcontainers) if it runs; else installs and starts the
# local servers (infra/local-servers.sh). Counts come from the TRX files the runs write, not from console text.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RESULTS="$ROOT/artifacts/test-results"

if [[ -z "${RELIABLESHOP_POSTGRES:-}" ]] && ! docker info >/dev/null 2>&1; then
  infra/local-servers.sh up || { echo "could not start local servers"; echo "0 passed, 1 failed"; exit 1; }
  eval "$(infra/local-servers.sh env --tests)"
fi
export ASPIRE_ALLOW_UNSECURED_TRANSPORT=true
if [[ "${RELIABLESHOP_INFRA:-}" == local ]]; then
  infra/local-servers.sh drop-test-databases || echo "(could not drop earlier test databases; continuing)"
fi

rm -rf "$RESULTS" && mkdir -p "$RESULTS"
if ! dotnet build ReliableShop.sln -c Release -nologo -clp:ErrorsOnly; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

projects=("$@")
if ((${#projects[@]} == 0)); then
  # System.Tests last: it starts the whole system and is the slowest.
  mapfile -t projects < <(ls tests | grep '\.Tests$' | grep -v '^System\.Tests$'; echo System.Tests)
fi

status=0
for name in "${projects[@]}"; do
  echo "=== $name"
  # A test that hangs (no test here legitimately runs 20 minutes) is killed with its test host: the run ends,
  # reports what it has and counts as one failure below, instead of holding CI until its own timeout.
  dotnet test "tests/$name/$name.csproj" -c Release --no-build -nologo \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" --results-directory "$RESULTS" \
    --blame-hang-timeout 20m --blame-hang-dump-type none \
    || status=1
  # The databases a project made go with it: the whole-system drills in System.Tests measure latency on the same 2
  # cores, and 80 left-over databases from the projects before it keep PostgreSQL's autovacuum launcher cycling through
  # them and its next checkpoint syncing their files (13,920 files, 11 s of sync, during a rehearsal's drills).
  # System.Tests' own databases stay until the next run, to be read after a failure.
  if [[ "${RELIABLESHOP_INFRA:-}" == local && "$name" != System.Tests ]]; then
    infra/local-servers.sh drop-test-databases || echo "(could not drop the test databases of $name; continuing)"
  fi
done

python3 - "$RESULTS" "${projects[@]}" <<'PY' || status=1
import glob, os, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
failures = []
files = glob.glob(sys.argv[1] + "/*.trx")
# A project whose run wrote no results at all (the runner killed from outside, a missing project) is one failure: its
# tests did not pass, and counting only the files that exist would print "0 failed" for a run that never finished.
for name in sys.argv[2:]:
    if not os.path.exists(os.path.join(sys.argv[1], name + ".trx")):
        failed += 1
        print(f"{name}: no test results (its run did not finish or did not start)", file=sys.stderr)
for f in files:
    root = ET.parse(f).getroot()
    for info in root.iterfind(".//t:RunInfo", ns):
        text = (info.findtext("t:Text", default="", namespaces=ns) or "").strip()
        # The run did not finish (a hung test killed by --blame-hang-timeout, a crashed host): the test it was in has
        # no result of its own, so the aborted run counts as one failure. (Other RunInfo lines are console output.)
        if info.get("outcome") == "Error" and "test run was aborted" in text.lower():
            failed += 1
            print(f"{f}: {text.splitlines()[0]}", file=sys.stderr)
    for r in root.iterfind(".//t:UnitTestResult", ns):
        o = r.get("outcome")
        if o == "Passed": passed += 1
        elif o in ("NotExecuted", "Inconclusive"): skipped += 1
        else:
            failed += 1
            message = (r.findtext(".//t:ErrorInfo/t:Message", default="", namespaces=ns) or "").strip()
            failures.append(f"FAILED {r.get('testName')}: {message.splitlines()[0][:400] if message else '(no message)'}")
# The failed tests' names and first lines last, just above the count: a log read from its tail (a CI record keeps only
# the end) still says which tests failed and why.
for failure in failures:
    print(failure)
line = f"{passed} passed, {failed} failed"
if skipped: line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed or passed == 0 else 0)
PY
exit $status
