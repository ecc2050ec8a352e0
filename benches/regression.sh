#!/usr/bin/env bash
# Benchmark for refactors: this tree's release build against another revision's, side by
# side in one run, on what must not get slower: validate and plan of the 11,000-agent
# fleet (1,000 teams), and a no-op apply of the 100-agent Docker fleet (10 teams of a
# leader and 9 workers, plus the Manager).
# Usage: benches/regression.sh REV     (e.g. benches/regression.sh c5c098d)
#        needs hyperfine, GNU time, a Docker Engine and /bin/busybox (busybox-static)
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=${1:?usage: benches/regression.sh REV}
. benches/common.sh
[ -x /bin/busybox ] || { echo "install busybox-static"; exit 1; }

# The other revision, built in its own work tree and target folder (dependencies are
# reused from this tree's release build when the folder is new).
base_tree=$work/base-tree
base_target=$work/base-target
rm -rf "$base_tree"
git worktree prune
git worktree add -f -q --detach "$base_tree" "$base_rev"
if [ ! -d "$base_target/release" ]; then
  mkdir -p "$base_target"
  cp -a target/release "$base_target/"
fi
(cd "$base_tree" && CARGO_TARGET_DIR="$PWD/../base-target" cargo build --release --locked -q)
base=$base_target/release/clawops

hyperfine --warmup 1 --runs 10 \
  -n "validate (base $base_rev)" "$base validate $fleet --rev HEAD" \
  -n "validate (this tree)" "$binary validate $fleet --rev HEAD"
hyperfine --warmup 1 --runs 10 \
  -n "plan --base HEAD~1 (base $base_rev)" "$base plan $fleet --base HEAD~1" \
  -n "plan --base HEAD~1 (this tree)" "$binary plan $fleet --base HEAD~1"

# The 100-agent Docker fleet, applied once by this tree; then each build's no-op apply.
. benches/agent_image.sh
agent_image clawops-regression/agent:v1
docker_fleet=$work/regression-fleet
rm -rf "$docker_fleet"
python3 benches/generate_fleet.py --out "$docker_fleet" --teams 10 --workers 9
cat > "$docker_fleet/clawops.toml" <<'TOML'
[fleet]
name = "bench-regression"
prefix = "bench-regression-"
[docker]
network = "bench-regression-net"
[rollout]
teams_in_parallel = 10
TOML
cat > "$docker_fleet/images.yaml" <<'YAML'
apiVersion: clawops.dev/v1alpha1
kind: ImageSet
metadata: {name: bench}
spec:
  runtimes: {openclaw: clawops-regression/agent:v1, copaw: clawops-regression/agent:v1, hermes: clawops-regression/agent:v1}
  manager: clawops-regression/agent:v1
  pullPolicy: Never
YAML
git -C "$docker_fleet" init -q -b main
git -C "$docker_fleet" add -A
git -C "$docker_fleet" -c user.name=bench -c user.email=bench@clawops.dev commit -qm v1
"$binary" apply "$docker_fleet" --yes >/dev/null
hyperfine --warmup 1 --runs 10 \
  -n "no-op apply (base $base_rev)" "$base apply $docker_fleet --yes" \
  -n "no-op apply (this tree)" "$binary apply $docker_fleet --yes"

docker ps -aq --filter label=clawops.dev/fleet=bench-regression | xargs -r docker rm -f >/dev/null
docker volume ls -q --filter label=clawops.dev/fleet=bench-regression | xargs -r docker volume rm >/dev/null
docker rm -f clawops-lock-bench-regression clawops-records-bench-regression >/dev/null 2>&1 || true
docker network rm bench-regression-net >/dev/null 2>&1 || true
docker rmi clawops-regression/agent:v1 >/dev/null 2>&1 || true
git worktree remove -f "$base_tree"
