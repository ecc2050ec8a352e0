# Shared by the benchmark scripts: tool checks, the release build, and the generated
# 1,000-team fleet (11,000 agents) with an ImageSet upgrade as its last commit.
# Sourced with the working directory at the repository root; sets $work, $fleet, $binary.
work=benches/.work
fleet=$work/fleet-1000x10
binary=target/release/clawops
mkdir -p "$work"
command -v hyperfine >/dev/null || { echo "install hyperfine (apt-get install hyperfine)"; exit 1; }
[ -x /usr/bin/time ] || { echo "install GNU time (apt-get install time)"; exit 1; }
cargo build --release --locked -q
if [ ! -d "$fleet/humans" ]; then
  rm -rf "$fleet"
  python3 benches/generate_fleet.py --out "$fleet" --teams 1000 --workers 10 --git --upgrade-commit
fi
