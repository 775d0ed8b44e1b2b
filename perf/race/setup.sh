#!/usr/bin/env bash
# Creates (or checks) the race's Python venv with the two peer engines from
# PyPI, pinned in perf/race/requirements.txt, and prints their versions.
# Idempotent: a venv that already holds the pins is left as it is.
#
#   perf/race/setup.sh                       # venv in target/race-venv
#   RACE_VENV=/elsewhere perf/race/setup.sh  # or where you say
#   PYTHON=python3.11 perf/race/setup.sh     # interpreter for a new venv
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${RACE_VENV:-target/race-venv}
requirements=perf/race/requirements.txt

if [[ ! -x $venv/bin/python ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
# pip check of the pins without touching the network when they are all there
if ! "$venv/bin/python" - "$requirements" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, wanted = line.split("==")
        try:
            assert version(name) == wanted
        except (PackageNotFoundError, AssertionError):
            sys.exit(1)
PY
then
    "$venv/bin/python" -m pip install --quiet -r "$requirements"
fi
"$venv/bin/python" - <<'PY'
import platform
from importlib.metadata import version
names = ["nautilus_trader", "hftbacktest", "numpy", "numba", "pandas", "polars"]
print(f"python {platform.python_version()}; " + ", ".join(f"{n} {version(n)}" for n in names))
PY
