#!/usr/bin/env bash
# The install step of the clawops GitHub Action (action.yml): put a `clawops` on the PATH
# of the later steps. It runs in the runner's temp folder, never in the pull request's
# checkout. Inputs come through the environment only:
#   CLAWOPS_VERSION        a release tag (v0.1.0), or empty for the action's own revision
#   ACTION_REPOSITORY      owner/name of the action (github.action_repository)
#   ACTION_SOURCE          the action's own folder (github.action_path)
#   SERVER_URL             github.server_url
#   CLAWOPS_INSTALL_ROOT   where a release is installed (its bin/ folder is what the
#                          action caches between runs)
#   CLAWOPS_RELEASE_BASE_URL  optional: where releases are downloaded from, instead of
#                          $SERVER_URL/$ACTION_REPOSITORY/releases/download (the tests
#                          serve a release on 127.0.0.1 with it)
#   GITHUB_PATH            set by the runner
#
# With a version: the release archive clawops-<version>-<target>.tar.gz and SHA256SUMS
# are downloaded from <base>/<version>/, the archive's SHA-256 must be the one SHA256SUMS
# lists for it, and its `clawops` goes to $CLAWOPS_INSTALL_ROOT/bin. A binary already
# there (restored from the cache) whose --version is the wanted one is kept without any
# download. A release without an archive for this version and platform (HTTP 404) falls
# back to building the tag with cargo; a checksum that does not match never does.
# Without a version: the action's own source is built, as `cargo install --path`.
set -euo pipefail

if [ -z "${CLAWOPS_VERSION:-}" ]; then
  # The pull-request plan (--base) and the comment need no backend: build without one.
  cargo install --locked --no-default-features --path "$ACTION_SOURCE"
  clawops --version
  exit 0
fi

if [ -z "${ACTION_REPOSITORY:-}" ]; then
  echo "::error::cannot tell which repository this action comes from; leave 'version' empty to build the action's own revision"
  exit 1
fi
case "$CLAWOPS_VERSION" in
  *[!A-Za-z0-9._+-]* | .* | *..*)
    echo "::error::'$CLAWOPS_VERSION' is not a release tag (letters, digits, '.', '_', '+' and '-' only)"
    exit 1
    ;;
esac
: "${CLAWOPS_INSTALL_ROOT:?CLAWOPS_INSTALL_ROOT must name the install folder}"
bin_dir="$CLAWOPS_INSTALL_ROOT/bin"
wanted="clawops ${CLAWOPS_VERSION#v}"

# Puts $bin_dir on the PATH of the later steps after checking the binary runs.
finish() {
  local shown
  if ! shown="$("$bin_dir/clawops" --version 2>&1)"; then
    echo "::error::the installed clawops does not run: $shown"
    exit 1
  fi
  if [ "$shown" != "$wanted" ]; then
    echo "::warning::the clawops of $CLAWOPS_VERSION reports '$shown', not '$wanted': the cache cannot tell it is this version, so every run installs it anew"
  fi
  echo "$bin_dir" >>"$GITHUB_PATH"
  echo "$shown (in $bin_dir, $1)"
}

# A binary restored from the cache, of the wanted version: nothing to download.
if [ -x "$bin_dir/clawops" ] && [ "$("$bin_dir/clawops" --version 2>/dev/null || true)" = "$wanted" ]; then
  finish "from the cache"
  exit 0
fi

# The fallback: build the tag from the action's repository into the same folder (so the
# cache keeps it too).
build_from_source() {
  echo "::warning::$1; building clawops $CLAWOPS_VERSION from source instead (this takes a few minutes)"
  # --force: a binary of another version may be there (restored from the cache), and the
  # cache keeps only bin/, not cargo's record of what it installed.
  cargo install --locked --no-default-features --force --root "$CLAWOPS_INSTALL_ROOT" \
    --git "$SERVER_URL/$ACTION_REPOSITORY" --tag "$CLAWOPS_VERSION" clawops
  finish "built from the tag"
}

target=""
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64 | Linux/amd64) target=x86_64-unknown-linux-gnu ;;
  Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-gnu ;;
esac
if [ -z "$target" ]; then
  build_from_source "clawops releases have no binary for $(uname -s)/$(uname -m)"
  exit 0
fi

base="${CLAWOPS_RELEASE_BASE_URL:-$SERVER_URL/$ACTION_REPOSITORY/releases/download}"
base="${base%/}"
archive="clawops-$CLAWOPS_VERSION-$target.tar.gz"
download="$(mktemp -d "${TMPDIR:-/tmp}/clawops-download.XXXXXX")"
trap 'rm -rf "$download"' EXIT

# Downloads $1 into $2; prints the HTTP status (000 when no answer came).
fetch() {
  curl --silent --show-error --location --retry 3 --proto-redir =https \
    --connect-timeout 20 --max-time 300 \
    --output "$2" --write-out '%{http_code}' "$1" || true
}

status="$(fetch "$base/$CLAWOPS_VERSION/$archive" "$download/$archive")"
case "$status" in
  200) ;;
  404)
    build_from_source "the release $CLAWOPS_VERSION has no $archive ($base/$CLAWOPS_VERSION/ answered 404)"
    exit 0
    ;;
  *)
    echo "::error::downloading $base/$CLAWOPS_VERSION/$archive failed (HTTP status $status)"
    exit 1
    ;;
esac
status="$(fetch "$base/$CLAWOPS_VERSION/SHA256SUMS" "$download/SHA256SUMS")"
if [ "$status" != 200 ]; then
  echo "::error::the release $CLAWOPS_VERSION has $archive but its SHA256SUMS could not be downloaded (HTTP status $status); refusing an archive that cannot be verified"
  exit 1
fi

# `sha256sum` lines: the hash, a space, a space or '*', the file name.
expected="$(awk -v name="$archive" '$2 == name || $2 == "*" name { print tolower($1); exit }' "$download/SHA256SUMS")"
if [ -z "$expected" ]; then
  echo "::error::SHA256SUMS of the release $CLAWOPS_VERSION does not list $archive; refusing to install it"
  exit 1
fi
actual="$(sha256sum "$download/$archive" | cut -d ' ' -f 1)"
if [ "$actual" != "$expected" ]; then
  echo "::error::checksum mismatch for $archive: SHA256SUMS says $expected, the download is $actual; refusing to install it"
  exit 1
fi
echo "$archive: sha256 $actual, as SHA256SUMS lists"

mkdir "$download/unpacked"
if ! tar -xzf "$download/$archive" -C "$download/unpacked" --no-same-owner --no-same-permissions clawops ||
  ! [ -f "$download/unpacked/clawops" ] || [ -L "$download/unpacked/clawops" ]; then
  echo "::error::$archive holds no clawops binary"
  exit 1
fi
mkdir -p "$bin_dir"
install -m 0755 "$download/unpacked/clawops" "$bin_dir/clawops.new"
mv -f "$bin_dir/clawops.new" "$bin_dir/clawops"
finish "from the release"
