#!/usr/bin/env bash
# The plan step of the clawops GitHub Action (action.yml): plan the pull request's head
# commit against its base commit, write the comment body and the JSON plan, and set the
# step outputs. The checkout is read as data: the script runs elsewhere (action.yml sets
# the runner's temp folder) and hands the checkout's path to git and clawops. Everything
# it writes for GitHub (the comment body, the job summary, the errors in the log) is
# scrubbed of secret-looking values first. Inputs come through the environment only:
#   REPOSITORY                      the pull request's checkout (github.workspace)
#   EVENT_NAME, BASE_SHA, HEAD_SHA  the event and the pull request's two commits
#   FLEET_PATH                      the fleet's subfolder ("." for the repository root)
#   FETCH_TOKEN, SERVER_URL         to fetch the commits when the checkout lacks them
#                                   (the token is also scrubbed from what is written)
#   OUTPUT_DIR                      where plan.md, plan.json and errors.txt go
#   GITHUB_OUTPUT, GITHUB_STEP_SUMMARY  set by the runner
# The step itself fails only when it cannot run at all; a plan that fails is reported
# through the `exit-code` output, so the comment can still say why.
set -euo pipefail

if [ "$EVENT_NAME" != "pull_request" ] || [ -z "$BASE_SHA" ] || [ -z "$HEAD_SHA" ]; then
  echo "::error::the clawops plan action runs on pull_request events (this is $EVENT_NAME)"
  exit 1
fi

mkdir -p "$OUTPUT_DIR"
plan_markdown="$OUTPUT_DIR/plan.md"
plan_json="$OUTPUT_DIR/plan.json"
errors="$OUTPUT_DIR/errors.txt"
rm -f "$plan_markdown" "$plan_json" "$errors"

# Fetch the base and head commits unless the checkout already has them (the default
# checkout of a pull request holds only the merge commit).
missing=()
for commit in "$BASE_SHA" "$HEAD_SHA"; do
  git -C "$REPOSITORY" cat-file -e "$commit^{commit}" 2>/dev/null || missing+=("$commit")
done
if [ "${#missing[@]}" -gt 0 ]; then
  basic="$(printf 'x-access-token:%s' "$FETCH_TOKEN" | base64 | tr -d '\n')"
  echo "::add-mask::$basic"
  # The header goes through the environment, never the command line or .git/config.
  GIT_CONFIG_COUNT=1 \
    GIT_CONFIG_KEY_0="http.$SERVER_URL/.extraheader" \
    GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $basic" \
    git -C "$REPOSITORY" fetch --quiet --no-tags --depth=1 origin "${missing[@]}"
fi

subfolder="${FLEET_PATH#./}"
subfolder="${subfolder%/}"
path_arguments=()
if [ -n "$subfolder" ] && [ "$subfolder" != "." ]; then
  path_arguments=(--path "$subfolder")
fi

set +e
clawops --color never plan "$REPOSITORY" ${path_arguments[@]+"${path_arguments[@]}"} \
  --base "$BASE_SHA" --rev "$HEAD_SHA" \
  --format markdown --out "$plan_json" --detailed-exitcode \
  >"$plan_markdown" 2>"$errors"
exit_code=$?
set -e

case "$exit_code" in
  0) has_changes=false ;;
  2) has_changes=true ;;
  *) has_changes=false ;;
esac

if [ "$exit_code" = 0 ] || [ "$exit_code" = 2 ]; then
  summary="$(grep -m1 -E '^\*\*(Plan: |No changes)' "$plan_markdown" | sed -e 's/^\*\*//' -e 's/\*\*$//' || true)"
else
  summary="clawops plan failed (exit $exit_code) at ${HEAD_SHA:0:7}"
  # The comment says why: the plan when there is one (a refused plan), then the errors.
  {
    if ! grep -q '^<!-- clawops-plan -->' "$plan_markdown" 2>/dev/null; then
      echo '<!-- clawops-plan -->'
    fi
    cat "$plan_markdown" 2>/dev/null || true
    echo
    echo "**clawops plan failed** at \`${HEAD_SHA:0:7}\` (exit $exit_code):"
    echo
    echo '```text'
    # The backticks are meant literally: a fence in the errors must not close ours.
    # shellcheck disable=SC2016
    head -c 50000 "$errors" | sed 's/```/` ` `/g'
    echo
    echo '```'
  } >"$plan_markdown.tmp"
  mv "$plan_markdown.tmp" "$plan_markdown"
fi
# One scrubbing (the comment's) for all that reaches GitHub: the body, the summary, the log.
GITHUB_TOKEN="$FETCH_TOKEN" clawops --color never github scrub "$plan_markdown" "$errors"
cat "$errors" >&2
summary="$(printf '%s' "$summary" | tr -d '\r\n')"

json_output=""
if [ -s "$plan_json" ]; then
  json_output="$plan_json"
fi
{
  echo "exit-code=$exit_code"
  echo "has-changes=$has_changes"
  echo "summary=$summary"
  echo "plan-json=$json_output"
  echo "plan-markdown=$plan_markdown"
} >>"$GITHUB_OUTPUT"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$plan_markdown" >>"$GITHUB_STEP_SUMMARY"
fi
