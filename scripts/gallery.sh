#!/usr/bin/env bash
# Regenerates docs/gallery/: the report of every shipped scenario and, where a
# scenario has variants, their comparison over 20 seeds, as a visitor sees them before
# installing anything. Run from anywhere:
#
#     scripts/gallery.sh
#
# Everything in the gallery is a pure function of the shipped inputs and seeds, so a
# rerun that changes nothing leaves git clean.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --release
bin="${CARGO_TARGET_DIR:-target}/release/faultline"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

gallery=docs/gallery
rm -rf "${gallery}"
mkdir -p "${gallery}"
index="${gallery}/README.md"
{
    echo "# Gallery"
    echo
    echo "The reports faultline wrote for each shipped scenario, at the scenario's own seed."
    echo "Regenerate with \`scripts/gallery.sh\`. Open a \`report.html\` in a browser (it is"
    echo "self-contained), or read \`report.md\` here."
    echo
    echo "| scenario | what it asks | hypothesis | mitigations compared |"
    echo "|---|---|---|---|"
} > "${index}"

for scenario in scenarios/*.json; do
    name="$(basename "${scenario}" .json)"
    status=0
    "${bin}" run "${scenario}" --out "${work}" > "${work}/${name}.log" 2>&1 || status=$?
    # Exit 1 is a hypothesis that does not hold: a result worth showing.
    if [ "${status}" -gt 1 ]; then
        cat "${work}/${name}.log" >&2
        exit "${status}"
    fi
    run_dir="$(find "${work}/${name}/baseline" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
    mkdir -p "${gallery}/${name}"
    for file in report.html report.md timeline.png cascade.png saturation.png graph.png; do
        cp "${run_dir}/${file}" "${gallery}/${name}/"
    done
    description="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("description", ""))' "${scenario}")"
    verdict="$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
h = m.get("hypothesis", [])
print("—" if not h else ("holds" if all(v["passed"] for v in h) else "fails"))' "${run_dir}/run.json")"
    comparison="—"
    if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("variants") else 1)' "${scenario}"; then
        "${bin}" compare "${scenario}" --seeds 20 --out "${work}" > "${work}/${name}-compare.log" 2>&1
        mkdir -p "${gallery}/${name}/compare"
        for file in report.html report.md intervals.png latency.png compare.csv; do
            cp "${work}/${name}/compare/${file}" "${gallery}/${name}/compare/"
        done
        comparison="[variants over 20 seeds](${name}/compare/report.md)"
    fi
    echo "| [${name}](${name}/report.md) | ${description} | ${verdict} | ${comparison} |" >> "${index}"
done
# A search of the shop's failure space: written in place, so that the scenario file of
# each minimal set names the model from where it lies.
"${bin}" search scenarios/shop-steady.json --depth 2 --seeds 3 --out "${gallery}" > "${work}/search.log" 2>&1
{
    echo
    echo "## Searching for the weakest point"
    echo
    echo "[\`faultline search scenarios/shop-steady.json --depth 2 --seeds 3\`](shop-steady/search/report.md):"
    echo "every instance, zone, service and link of the shop's model, alone and in pairs, ranked by how"
    echo "often and how badly each breaks the scenario's hypotheses; each minimal set is a scenario in"
    echo "[shop-steady/search/minimal/](shop-steady/search/minimal/)."
} >> "${index}"
echo "wrote ${gallery}/"
