#!/usr/bin/env bash
# Benchmark: `clawops plan --base HEAD~1` on the 1,000-team fleet (11,000 agents) whose last
# commit changes only the ImageSet, so every agent is recreated. Side by side with
# `git diff HEAD~1 HEAD`, the review a team does without clawops (it shows one changed
# line and nothing about the 11,000 agents it restarts).
#
# Targets (plan engine issue): at most 1.5 s and 400 MiB; markdown under 65,536 characters.
# Usage: benches/plan.sh          (needs hyperfine and GNU time: apt-get install hyperfine time)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
"$binary" plan "$fleet" --base HEAD~1 | tail -1

hyperfine --warmup 1 --runs 10 \
  -n "clawops plan --base HEAD~1 (text)" "$binary plan $fleet --base HEAD~1" \
  -n "clawops plan --base HEAD~1 (markdown)" "$binary plan $fleet --base HEAD~1 --format markdown" \
  -n "clawops plan --base HEAD~1 (json)" "$binary plan $fleet --base HEAD~1 --format json" \
  -n "git diff HEAD~1 HEAD" "git -C $fleet diff HEAD~1 HEAD"

for format in text markdown json; do
  peak_kib=$(/usr/bin/time -f '%M' "$binary" plan "$fleet" --base HEAD~1 --format "$format" 2>&1 >/dev/null | tail -1)
  echo "clawops plan ($format) peak memory: $((peak_kib / 1024)) MiB"
done
echo "markdown size: $("$binary" plan "$fleet" --base HEAD~1 --format markdown | wc -c) characters (limit 65536)"
echo "text size: $("$binary" plan "$fleet" --base HEAD~1 | wc -l) lines"
