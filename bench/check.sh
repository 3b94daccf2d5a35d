#!/usr/bin/env bash
# Benchmark: `harden check` of a host with all three resources configured
# (a 100-rule firewall, a 50-site Caddyfile, 10 backup sets), files only under
# --root: no borg, restic or caddy process per check. Median (hyperfine), the
# ratio to a firewall-only check, and peak memory.
# Usage: bench/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
H=$PWD/target/release/harden
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir -p $T/etc/default $T/etc/caddy $T/etc/restic $T/etc/borgmatic $T/etc/pgbackrest $T/srv
cp -a /etc/ufw $T/etc/; cp /etc/default/ufw $T/etc/default/; cp /etc/services $T/etc/
printf 'root:x:0:0::/root:/bin/sh\npostgres:x:114:121::/var/lib/postgresql:/bin/sh\n' > $T/etc/passwd
printf 'root:x:0:\npostgres:x:121:\n' > $T/etc/group
# Caddy: 50 sites; a version in the profile, so no `caddy version` is needed.
{ for i in $(seq 1 50); do printf 'site%d.example.com {\n\treverse_proxy 127.0.0.1:%d\n}\n\n' "$i" $((8000 + i)); done; } > $T/etc/caddy/Caddyfile
fw='[firewall]
enabled = true
'
for i in $(seq 1 100); do fw+=$(printf '[[firewall.rules]]\naction = "allow"\nport = %d\nproto = "tcp"\n' $((10000 + i)))$'\n'; done
bk='[backup]
'
for i in $(seq 1 10); do
  printf 'RESTIC_REPOSITORY=/srv/restic%d\nRESTIC_PASSWORD_FILE=/etc/restic/pass%d\n' "$i" "$i" > $T/etc/restic/set$i.env
  echo secret > $T/etc/restic/pass$i; chmod 600 $T/etc/restic/set$i.env $T/etc/restic/pass$i
  bk+=$(printf '[[backup.restic]]\nenv_file = "/etc/restic/set%d.env"\nowner = "root"\n' "$i")$'\n'
done
printf '%s' "$fw" > $T/fw.toml
printf '%s\n[caddy]\ncaddyfile = "/etc/caddy/Caddyfile"\nversion = "2.6.2"\nreload = "none"\npreset = "owasp"\n%s' "$fw" "$bk" > $T/all.toml
$H --root $T apply --yes -q --allow-lockout --profile $T/all.toml >/dev/null 2>&1 || true
$H --root $T --audit-log /run/audit.jsonl check --profile $T/all.toml | tail -4 || true
hyperfine -N --warmup 3 --runs 40 --style basic -i --export-json $T/h.json \
  -n 'check: firewall only' "$H --root $T --audit-log /run/audit.jsonl check -q --profile $T/fw.toml" \
  -n 'check: firewall + caddy + backup' "$H --root $T --audit-log /run/audit.jsonl check -q --profile $T/all.toml" >/dev/null
python3 - $T/h.json <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["check: firewall only"]["median"]
for n, x in r.items():
    print(f"{n:34s} median {x['median']*1000:7.1f} ms   ratio to firewall only {x['median']/base:5.2f}")
PY
/usr/bin/time -f "peak RSS %M KiB" $H --root $T --audit-log /run/audit.jsonl check -q --profile $T/all.toml 2>&1 >/dev/null | tail -1
