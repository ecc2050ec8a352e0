#!/bin/sh
# Test stand-in for Pilot's registry and the trust state of every node, as a CGI script
# of busybox httpd. The request body is the caller's node id, the command, then its
# arguments, one per line. State lives under /registry:
#   hostnames/<hostname>     the node id that holds the hostname (unique network-wide)
#   nodes/<id>/hostname      a node's hostname
#   pending/<id>/<from>      a handshake request from <from> waiting for <id>
#   trust/<id>/<peer>        <id> trusts <peer> (always written both ways: mutual)
# Knobs for tests: a file .hidden/<hostname> keeps that hostname from resolving (a peer
# that never comes); .find-delay holds the seconds a new hostname takes to resolve (a
# registry that is slow to propagate, so handshakes must be retried).
R=/registry
body=$(head -c "${CONTENT_LENGTH:-0}")
line() { echo "$body" | sed -n "${1}p"; }
me=$(line 1); command=$(line 2); first=$(line 3); second=$(line 4)
printf 'Content-Type: application/json\r\n\r\n'
ok() { printf '{"status":"ok","data":%s}\n' "$1"; exit 0; }
err() { printf '{"status":"error","code":"%s","message":"%s"}\n' "$1" "$2"; exit 0; }
until mkdir "$R/.lock" 2>/dev/null; do usleep 20000; done
trap 'rmdir "$R/.lock"' EXIT
mkdir -p "$R/hostnames" "$R/nodes/$me" "$R/pending/$me" "$R/trust/$me"
echo "$me $command $first" >> "$R/calls.log"
resolve() {
  if [ -f "$R/hostnames/$1" ]; then cat "$R/hostnames/$1";
  elif [ -n "$1" ] && [ -d "$R/nodes/$1" ]; then echo "$1"; fi
}
hostname_of() { cat "$R/nodes/$1/hostname" 2>/dev/null; }
trust_both() {
  mkdir -p "$R/trust/$1" "$R/trust/$2"
  date -u +%Y-%m-%dT%H:%M:%SZ > "$R/trust/$1/$2"; cp "$R/trust/$1/$2" "$R/trust/$2/$1"
  rm -f "$R/pending/$1/$2" "$R/pending/$2/$1"
}
case "$command" in
  set-hostname)
    echo "$first" | grep -Eq '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' \
      || err invalid_hostname "invalid hostname $first"
    case "$first" in localhost|backbone|broadcast) err reserved_hostname "$first is reserved" ;; esac
    holder=$(resolve "$first")
    [ -z "$holder" ] || [ "$holder" = "$me" ] || err hostname_taken "$first is taken by $holder"
    old=$(hostname_of "$me"); [ -n "$old" ] && rm -f "$R/hostnames/$old"
    echo "$me" > "$R/hostnames/$first"; echo "$first" > "$R/nodes/$me/hostname"
    date +%s > "$R/nodes/$me/set_at"
    ok "{\"hostname\":\"$first\",\"node_id\":\"$me\"}" ;;
  find)
    [ -f "$R/.hidden/$first" ] && err not_found "no node is named $first"
    id=$(resolve "$first"); [ -n "$id" ] || err not_found "no node is named $first"
    delay=$(cat "$R/.find-delay" 2>/dev/null || echo 0)
    age=$(( $(date +%s) - $(cat "$R/nodes/$id/set_at" 2>/dev/null || echo 0) ))
    [ "$age" -ge "$delay" ] || err not_found "no node is named $first yet"
    ok "{\"hostname\":\"$(hostname_of "$id")\",\"node_id\":\"$id\",\"address\":\"0:0000.$id\"}" ;;
  handshake)
    id=$(resolve "$first"); [ -n "$id" ] || err not_found "no node is named $first"
    [ -f "$R/trust/$me/$id" ] && ok "{\"status\":\"already_trusted\",\"node_id\":\"$id\"}"
    if [ -f "$R/pending/$me/$id" ]; then
      trust_both "$me" "$id"; ok "{\"status\":\"approved\",\"node_id\":\"$id\"}"
    fi
    mkdir -p "$R/pending/$id"; echo "$second" > "$R/pending/$id/$me"
    ok "{\"status\":\"pending\",\"node_id\":\"$id\"}" ;;
  pending)
    list=""
    for request in "$R/pending/$me"/*; do
      [ -f "$request" ] || continue; from=$(basename "$request")
      list="$list{\"node_id\":\"$from\",\"hostname\":\"$(hostname_of "$from")\",\"justification\":\"$(cat "$request")\"},"
    done
    ok "{\"pending\":[${list%,}]}" ;;
  approve)
    [ -f "$R/pending/$me/$first" ] || err not_pending "no request from $first is pending"
    trust_both "$me" "$first"; ok "{\"status\":\"approved\",\"node_id\":\"$first\"}" ;;
  trust)
    list=""
    for peer in "$R/trust/$me"/*; do
      [ -f "$peer" ] || continue
      list="$list{\"node_id\":\"$(basename "$peer")\",\"mutual\":true,\"network\":0,\"approved_at\":\"$(cat "$peer")\"},"
    done
    ok "{\"trusted\":[${list%,}]}" ;;
  info) ok "{\"node_id\":\"$me\",\"hostname\":\"$(hostname_of "$me")\"}" ;;
  *) err unknown_command "unknown command $command" ;;
esac
