#!/usr/bin/env bash
# Benchmark: `harden plan` on a firewall with 2,000 rules (1,000 dual-stack
# profile rules: 1,000 IPv4 + 1,000 IPv6 tuples), side by side with
# `ufw status verbose` on the same state, in a private namespace.
# Reports medians (hyperfine), their ratio, and peak memory.
# Usage: sudo bench/plan.sh [N]   (needs root, ufw, hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
cargo build --release -q
H=$PWD/target/release/harden
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cp -a /etc/ufw "$T/ufw"; cp -a /etc/default "$T/default"; mkdir -p "$T/backups"
# N/2 dual-stack rules = N tuples across user.rules and user6.rules.
{
  echo '[firewall]'; echo 'enabled = true'; echo 'logging = "low"'
  for i in $(seq 1 $((N / 2))); do
    printf '[[firewall.rules]]\naction = "allow"\nport = %d\nproto = "tcp"\ncomment = "svc %d"\n' $((10000 + i)) "$i"
  done
} > "$T/profile.toml"
# The same profile with one rule changed: a plan with work to show.
sed '0,/port = 10001/s//port = 9999/' "$T/profile.toml" > "$T/changed.toml"
cat > "$T/inner.sh" <<INNER
set -e
mount --bind $T/ufw /etc/ufw; mount --bind $T/default /etc/default; mount --bind $T/backups /var/backups
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /var/log; ip link set lo up
$H apply --yes --allow-lockout -q --profile $T/profile.toml
echo "rules: \$(grep -c '^### tuple' /etc/ufw/user.rules) IPv4 + \$(grep -c '^### tuple' /etc/ufw/user6.rules) IPv6 tuples"
# The same files under --root: the plan without reading the running kernel.
mkdir -p $T/copy/etc/default; cp -a /etc/ufw $T/copy/etc/; cp /etc/default/ufw $T/copy/etc/default/; cp /etc/services $T/copy/etc/
hyperfine -N --warmup 3 --runs 30 --style basic --export-json $T/h.json \
  -n 'harden plan --root copy (files only)' "$H --root $T/copy plan -q --profile $T/profile.toml" \
  -n 'harden plan (in sync)' "$H plan -q --profile $T/profile.toml" \
  -n 'harden plan (1 change)' "$H plan -q --profile $T/changed.toml" \
  -n 'ufw status verbose' 'ufw status verbose' -i >/dev/null
python3 - $T/h.json <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ufw = r["ufw status verbose"]["median"]
for name, x in r.items():
    print(f"{name:26s} median {x['median']*1000:8.1f} ms   ratio to ufw status: {x['median']/ufw:6.3f}")
PY
for c in "$H plan -q --profile $T/profile.toml" "ufw status verbose"; do
  /usr/bin/time -f "peak RSS %M KiB  (\$c)" \$c >/dev/null 2>$T/time || true; tail -1 $T/time | sed "s|\\\$c|\$c|"
done
INNER
unshare --net --mount --propagation private bash "$T/inner.sh"
