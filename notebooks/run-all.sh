#!/usr/bin/env bash
# Execute every notebook headless against freshly generated output, failing on any
# cell error. Used by .ci/run; runs the same on a laptop:
#
#     notebooks/run-all.sh
#
# Needs python3 (3.11+, with venv and pip) and a Rust toolchain (or FAULTLINE_BIN).
# Creates/reuses the virtualenv .venv-notebooks/ (FAULTLINE_VENV) with the pinned
# notebooks/requirements.txt, builds the release binary, writes fresh runs into a
# temporary directory, and executes each notebooks/*.ipynb into NOTEBOOKS_EXECUTED
# (default: inside that temporary directory, removed at the end). The committed
# notebooks stay untouched and must carry no outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"

venv="${FAULTLINE_VENV:-${repo}/.venv-notebooks}"
git_state() { git status --porcelain 2> /dev/null || true; }
state_before="$(git_state)"
python="${venv}/bin/python"

# 1. The committed notebooks carry no outputs (they are executed here, not stored executed).
python3 - notebooks/*.ipynb <<'EOF'
import json, sys
dirty = []
for path in sys.argv[1:]:
    with open(path) as f:
        nb = json.load(f)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            dirty.append(path)
            break
if dirty:
    sys.exit("notebooks committed with outputs (clear them before committing): " + " ".join(dirty))
EOF

# 2. The pinned environment.
if [ ! -x "${python}" ]; then
    python3 -m venv "${venv}"
fi
"${python}" -m pip install --quiet --disable-pip-version-check -r notebooks/requirements.txt
# A kernel spec inside the venv, so the notebooks run on the venv's Python and not on
# whatever a "python3" kernel elsewhere on the machine points to.
"${python}" -m ipykernel install --prefix "${venv}" --name faultline-notebooks \
    --display-name "faultline notebooks" > /dev/null

# 3. The binary.
if [ -z "${FAULTLINE_BIN:-}" ]; then
    cargo build --locked --release
    FAULTLINE_BIN="${CARGO_TARGET_DIR:-${repo}/target}/release/faultline"
fi
FAULTLINE_BIN="$(cd "$(dirname "${FAULTLINE_BIN}")" && pwd)/$(basename "${FAULTLINE_BIN}")"
export FAULTLINE_BIN

# 4. Fresh output. `run` exits 1 when the scenario's hypothesis fails (slow-database's does,
# by design): a result, not an error. `compare` exits 0 whatever the hypotheses say.
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
export FAULTLINE_OUTPUT="${work}/output"
faultline() {
    local tolerated="$1" status=0
    shift
    "${FAULTLINE_BIN}" "$@" --out "${FAULTLINE_OUTPUT}" > "${work}/faultline.log" 2>&1 || status=$?
    if [ "${status}" -ne 0 ] && [ "${status}" -ne "${tolerated}" ]; then
        cat "${work}/faultline.log" >&2
        echo "faultline $* --out ${FAULTLINE_OUTPUT}: exit ${status}" >&2
        exit 1
    fi
}
faultline 1 run scenarios/slow-database.json                  # 01-run-deep-dive
faultline 0 compare scenarios/retry-storm.json --seeds 5      # 03-compare (~2 s)
# 03 skips what is absent; here it must all be present, or 03 would pass on nothing.
for file in compare.csv runs.csv compare.json; do
    if [ ! -s "${FAULTLINE_OUTPUT}/retry-storm/compare/${file}" ]; then
        echo "faultline compare wrote no ${FAULTLINE_OUTPUT}/retry-storm/compare/${file}" >&2
        exit 1
    fi
done
faultline 0 sweep scenarios/retry-storm.json --seeds 2 \
    --set services.api.endpoints.handle.calls.query.retry.max_attempts=1,2,3,4,5 \
    --set workload.users.rate=200/s,300/s,400/s,500/s,600/s,700/s,800/s,900/s   # 02-sweep-heatmap (~3 s)
for file in sweep.csv runs.csv; do
    if [ ! -s "${FAULTLINE_OUTPUT}/retry-storm/sweep/${file}" ]; then
        echo "faultline sweep wrote no ${FAULTLINE_OUTPUT}/retry-storm/sweep/${file}" >&2
        exit 1
    fi
done

# 5. Execute.
FAULTLINE_KERNEL=faultline-notebooks "${python}" notebooks/execute.py \
    "${NOTEBOOKS_EXECUTED:-${work}/executed}" notebooks/*.ipynb

# 6. The working tree is as it was: nothing tracked modified, nothing new left behind.
if [ "$(git_state)" != "${state_before}" ]; then
    echo "running the notebooks changed the working tree:" >&2
    git status --short >&2
    exit 1
fi
