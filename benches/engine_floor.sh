#!/usr/bin/env bash
# The engine's own floor: what creating and starting N containers (a volume each, one
# bridge network, same tiny image) costs through the raw Engine API, with no tool in
# between (curl on the socket, 16 requests at a time), then what recreating all of them
# costs (stop, rename, create, start, remove). No tool doing this work on the same engine,
# health gates or not, can be faster; benches/apply.sh's figures read against it.
# Usage: [PARALLEL=16] benches/engine_floor.sh [N]   (default 101 containers, 16 requests at a time;
#        needs /bin/busybox from busybox-static). Prints the first-apply and the recreate floor.
set -euo pipefail
count=${1:-101}
socket=/var/run/docker.sock
api=http://localhost/v1.41
[ -x /bin/busybox ] || { echo "install busybox-static"; exit 1; }
. "$(dirname "$0")/agent_image.sh"
agent_image clawops-bench/floor:1
net=engine-floor-net-$$
docker network create $net >/dev/null
cleanup() {
  seq 1 "$count" | xargs -P 16 -I{} curl -s -o /dev/null --unix-socket $socket -X DELETE "$api/containers/engine-floor-{}?force=1&v=1"
  seq 1 "$count" | xargs -P 16 -I{} curl -s -o /dev/null --unix-socket $socket -X DELETE "$api/volumes/engine-floor-{}"
  docker network rm $net >/dev/null 2>&1 || true
  docker rmi clawops-bench/floor:1 >/dev/null 2>&1 || true
}
trap cleanup EXIT
one() {
  local index=$1
  curl -sf -o /dev/null --unix-socket $socket -H 'Content-Type: application/json' \
    -d "{\"Name\":\"engine-floor-$index\"}" "$api/volumes/create"
  curl -sf -o /dev/null --unix-socket $socket -H 'Content-Type: application/json' \
    -d "{\"Image\":\"clawops-bench/floor:1\",\"WorkingDir\":\"/root/w\",\"HostConfig\":{\"NetworkMode\":\"$net\",\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"engine-floor-$index\",\"Target\":\"/root/w\"}]}}" \
    "$api/containers/create?name=engine-floor-$index"
  curl -sf -o /dev/null --unix-socket $socket -X POST "$api/containers/engine-floor-$index/start"
}
export -f one
export socket api net
start=$(date +%s.%N)
seq 1 "$count" | xargs -P "${PARALLEL:-16}" -I{} bash -c 'one {}'
end=$(date +%s.%N)
echo "engine floor, first apply: $count containers (volume + create + start, ${PARALLEL:-16} at a time): $(echo "$end - $start" | bc) s"
again() {
  local index=$1
  curl -sf -o /dev/null --unix-socket $socket -X POST "$api/containers/engine-floor-$index/stop?t=10"
  curl -sf -o /dev/null --unix-socket $socket -X POST "$api/containers/engine-floor-$index/rename?name=engine-floor-$index-old"
  curl -sf -o /dev/null --unix-socket $socket -H 'Content-Type: application/json' \
    -d "{\"Image\":\"clawops-bench/floor:1\",\"WorkingDir\":\"/root/w\",\"HostConfig\":{\"NetworkMode\":\"$net\",\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"engine-floor-$index\",\"Target\":\"/root/w\"}]}}" \
    "$api/containers/create?name=engine-floor-$index"
  curl -sf -o /dev/null --unix-socket $socket -X POST "$api/containers/engine-floor-$index/start"
  curl -sf -o /dev/null --unix-socket $socket -X DELETE "$api/containers/engine-floor-$index-old?force=1"
}
export -f again
start=$(date +%s.%N)
seq 1 "$count" | xargs -P "${PARALLEL:-16}" -I{} bash -c 'again {}'
end=$(date +%s.%N)
echo "engine floor, recreate: $count containers (stop + rename + create + start + remove, ${PARALLEL:-16} at a time): $(echo "$end - $start" | bc) s"
