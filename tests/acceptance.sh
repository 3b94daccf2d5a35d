#!/usr/bin/env bash
# Acceptance run on a real host (the Vagrant box), or inside a private
# namespace (tests/acceptance.rs, run by .ci/run). Needs root and ufw.
#   HARDEN   the harden binary (default: harden on PATH)
#   PROFILE  the profile (default: profiles/web.toml)
# plan -> apply -> re-apply changes nothing -> a manual `ufw allow 8080/tcp`
# is drift -> the agent remediates it -> (with caddy) headers over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
H=${HARDEN:-harden}
PROFILE=${PROFILE:-profiles/web.toml}
fail() { echo "ACCEPTANCE FAILED: $*" >&2; exit 1; }
step() { echo "--- $*"; }

step "plan"
set +e; "$H" plan --profile "$PROFILE"; rc=$?; set -e
[ "$rc" = 2 ] || [ "$rc" = 0 ] || fail "plan exited $rc"

step "apply"
"$H" apply --yes --profile "$PROFILE" || fail "apply"
ufw status verbose | grep -q "Status: active" || fail "ufw is not active"

step "re-apply changes nothing"
out=$("$H" apply --yes --profile "$PROFILE") || fail "second apply"
echo "$out" | grep -q "No changes" || fail "second apply changed something: $out"

step "a manual ufw allow 8080/tcp is drift"
ufw allow 8080/tcp >/dev/null
set +e; out=$("$H" check --profile "$PROFILE"); rc=$?; set -e
[ "$rc" = 2 ] || fail "check exited $rc, not 2: $out"
echo "$out" | grep -q "ufw allow 8080/tcp" || fail "check does not name the rule: $out"

step "the agent remediates"
log=$(mktemp)
"$H" agent --profile "$PROFILE" --interval 1s --remediate 2> "$log" &
agent=$!
for _ in $(seq 1 30); do
  grep -q "remediated" "$log" && break
  sleep 1
done
kill -TERM "$agent"; wait "$agent" || true
grep -q "remediated" "$log" || { cat "$log"; fail "the agent did not remediate"; }
"$H" check -q --profile "$PROFILE" || fail "drift left after remediation"
ufw status | grep -q 8080 && fail "8080 is still allowed"

if command -v caddy >/dev/null && command -v curl >/dev/null; then
  step "caddy headers over HTTP"
  C=$(mktemp -d)
  admin=$((20000 + RANDOM % 5000)); http=$((25000 + RANDOM % 5000))
  cat > "$C/Caddyfile" <<CADDY
{
	admin localhost:$admin
	auto_https disable_redirects
	skip_install_trust
	storage file_system $C/data
}

:$http {
	header X-Frame-Options SAMEORIGIN
	respond "plain"
}
CADDY
  cat > "$C/caddy.toml" <<PROF
[caddy]
caddyfile = "$C/Caddyfile"
reload = "api"
preset = "owasp"
PROF
  (cd "$C" && HOME=$C XDG_DATA_HOME=$C XDG_CONFIG_HOME=$C caddy start --config Caddyfile --adapter caddyfile >/dev/null 2>&1) || fail "caddy start"
  trap 'caddy stop --address localhost:'$admin' >/dev/null 2>&1 || true' EXIT
  for _ in $(seq 1 20); do curl -s "http://127.0.0.1:$http/" >/dev/null && break; sleep 0.3; done
  HOME=$C "$H" apply --yes --profile "$C/caddy.toml" || fail "caddy apply"
  hdrs=$(curl -sS -D - -o /dev/null "http://127.0.0.1:$http/")
  echo "$hdrs"
  echo "$hdrs" | grep -qi "^x-content-type-options: nosniff" || fail "X-Content-Type-Options missing"
  [ "$(echo "$hdrs" | grep -ci '^x-frame-options:')" = 1 ] || fail "X-Frame-Options not exactly once"
  echo "$hdrs" | grep -qi "^strict-transport-security" && fail "HSTS sent over plain HTTP"
  echo "$hdrs" | grep -qi "^server:" && fail "Server header not removed"
  out=$(HOME=$C "$H" apply --yes --profile "$C/caddy.toml") || fail "second caddy apply"
  echo "$out" | grep -q "No changes" || fail "second caddy apply changed something: $out"
  caddy stop --address "localhost:$admin" >/dev/null 2>&1 || true
  trap - EXIT
else
  echo "--- caddy headers: skipped (no caddy or curl)"
fi
echo "ACCEPTANCE OK"
