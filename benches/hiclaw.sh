#!/usr/bin/env bash
# Benchmark: a no-op `clawops plan --backend hiclaw` of the 1,000-team fleet (11,000 agents)
# against the simulated HiClaw controller (Kubernetes transport), beside `clawops validate`
# of the same fleet. Target (issue 13): at most 1.5 s and 400 MiB.
# Usage: benches/hiclaw.sh     (needs hyperfine and GNU time: apt-get install hyperfine time)
# Profiling: `CLAWOPS_BENCH_HOLD=1 cargo bench --bench hiclaw_plan` seeds the simulator, prints
# the KUBECONFIG that reaches it and keeps it up for 50 minutes (run `perf record` on a plan).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common.sh
cargo bench --locked --bench hiclaw_plan
