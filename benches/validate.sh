#!/usr/bin/env bash
# Benchmark: validate a 1,000-team fleet (11,000 agents; 2,003 files: a file per Team and
# per Human) read from git at a
# revision, side by side with check-jsonschema (PyPI) validating the same files (checked
# out on disk) against clawops' own JSON Schemas: the tool a team would otherwise reach for.
#
# Target (issue: desired state from git): at most 1 s wall time and 300 MiB peak memory.
# Usage: benches/validate.sh            (needs hyperfine and GNU time: apt-get install hyperfine time)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
if [ ! -x "$work/venv/bin/check-jsonschema" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q check-jsonschema
fi
head=$(git -C "$fleet" rev-parse HEAD)
echo "fleet: $(ls "$fleet/teams" | wc -l) team files, commit $head"
"$binary" validate "$fleet" --rev "$head" | tail -2

competitor="$work/venv/bin/check-jsonschema --schemafile schemas/team.json $fleet/teams/*.yaml && $work/venv/bin/check-jsonschema --schemafile schemas/human.json $fleet/humans/*.yaml"
hyperfine --warmup 2 --runs 10 --export-markdown "$work/validate.md" \
  -n "clawops validate (git, at a revision)" "$binary validate $fleet --rev $head" \
  -n "check-jsonschema (work tree, schemas only)" "$competitor"

peak_kib=$(/usr/bin/time -f '%M' "$binary" validate "$fleet" --rev "$head" 2>&1 >/dev/null | tail -1)
echo "clawops peak memory: $((peak_kib / 1024)) MiB"
peak_kib=$(/usr/bin/time -f '%M' "$work/venv/bin/check-jsonschema" --schemafile schemas/team.json "$fleet"/teams/*.yaml 2>&1 >/dev/null | tail -1)  # the larger of its two runs
echo "check-jsonschema peak memory: $((peak_kib / 1024)) MiB"

# An alias bomb (nine levels of nine aliases) must be refused at once.
hyperfine --runs 10 -i -n "clawops validate (alias bomb)" "$binary validate tests/fixtures/invalid/yaml-too-complex"
