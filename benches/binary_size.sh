#!/usr/bin/env bash
# Benchmark: the size of the release binary and what the release profile costs in build
# time, side by side with the profile it replaced (`debug = "line-tables-only"`, no LTO,
# no strip). Each profile builds from scratch in its own target folder, one after the
# other, so both pay for every dependency.
#
# Target (issue 16, shipping): `cargo build --release` makes a binary of at most 20 MB.
# Usage: benches/binary_size.sh [--only-release]   (needs GNU time: apt-get install time)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "install GNU time (apt-get install time)"; exit 1; }
work=benches/.work/binary-size
mkdir -p "$work"

# build NAME LABEL [ENV=VALUE...]: a clean release build with the profile overridden by
# ENV, in target-NAME.
build() {
  local name=$1 label=$2
  shift 2
  local target="$work/target-$name"
  rm -rf "$target"
  env "$@" CARGO_TARGET_DIR="$target" /usr/bin/time -f '%e %M' -o "$work/$name.time" \
    cargo build --release --locked -q
  local binary="$target/release/clawops"
  tar -czf "$work/$name.tar.gz" -C "$(dirname "$binary")" clawops
  read -r seconds peak_kib <"$work/$name.time"
  printf '%-28s binary %6.1f MB   tar.gz %5.1f MB   build %6.0f s   peak %5d MiB\n' \
    "$label" \
    "$(echo "$(stat -c %s "$binary") / 1000000" | bc -l)" \
    "$(echo "$(stat -c %s "$work/$name.tar.gz") / 1000000" | bc -l)" \
    "$seconds" "$((peak_kib / 1024))"
}

build release "release (Cargo.toml)"
if [ "${1:-}" != "--only-release" ]; then
  build before "before (line tables, no LTO)" \
    CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_PROFILE_RELEASE_STRIP=none \
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=3
fi
