#!/usr/bin/env bash
# Benchmark: `harden plan` of a host with N configured backup sets (default 50:
# 20 restic env files with units, 15 borgmatic configs with real local borg
# repositories, 15 pgBackRest configs with conf.d and stanza info files), on a temp
# root. Plans only read local files (no borg/restic/pgbackrest process, no network).
# Reports hyperfine medians (goal: < 50 ms for 50 sets), the ratio to a baseline plan
# of an empty [backup] section in the same run, and peak memory.
# Usage: bench/backup.sh [N]   (needs hyperfine; borg for the borg repositories)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
cargo build --release -q
H=${CARGO_TARGET_DIR:-$PWD/target}/release/harden
T=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "kept: $T" || trap 'rm -rf "$T"' EXIT
R=$T/root
mkdir -p "$R/etc/restic" "$R/etc/systemd/system" "$R/etc/borgmatic.d" "$R/srv" "$R/var/lib/postgresql"
printf 'root:x:0:0::/root:/bin/sh\npostgres:x:%d:%d::/var/lib/postgresql:/bin/sh\n' "$(id -u)" "$(id -g)" > "$R/etc/passwd"
printf 'root:x:0:\npostgres:x:%d:\n' "$(id -g)" > "$R/etc/group"
NR=$((N * 2 / 5)); NB=$(((N - NR) / 2)); NP=$((N - NR - NB))
PROF=$T/profile.toml
{ echo '[backup]'; echo 'require_encryption = true'; echo 'secret_mode = "0600"'; } > "$PROF"
for i in $(seq 1 $NR); do
  printf 'RESTIC_REPOSITORY=/srv/restic%d\nRESTIC_PASSWORD_FILE=/etc/restic/r%d.pass\nAWS_ACCESS_KEY_ID=AK%d\n' "$i" "$i" "$i" > "$R/etc/restic/r$i.env"
  echo "bench-pass-$i" > "$R/etc/restic/r$i.pass"
  printf '[Unit]\nDescription=restic %d\n[Service]\nType=oneshot\nEnvironmentFile=/etc/restic/r%d.env\nExecStart=/usr/bin/restic backup /srv/data%d\n' "$i" "$i" "$i" > "$R/etc/systemd/system/restic-r$i.service"
  mkdir -p "$R/srv/restic$i/keys"
  head -c 200 /dev/urandom > "$R/srv/restic$i/config"
  printf '{"created":"2024-01-01T00:00:00Z","kdf":"scrypt","N":32768,"r":8,"p":6,"salt":"c2FsdA==","data":"ZGF0YQ=="}' > "$R/srv/restic$i/keys/k$i"
  printf '[[backup.restic]]\nenv_file = "/etc/restic/r%d.env"\nowner = "root"\nunits = ["restic-r%d.service"]\n' "$i" "$i" >> "$PROF"
done
for i in $(seq 1 $NB); do
  if command -v borg >/dev/null; then
    BORG_PASSPHRASE=bench BORG_BASE_DIR=$T/borghome borg init -e repokey-blake2 "$R/srv/borg$i" 2>/dev/null
  fi
  printf 'repositories:\n  - path: /srv/borg%d\n    label: b%d\nsource_directories:\n  - /srv/data%d\nencryption_passcommand: cat /etc/borgmatic.d/b%d.pass\nkeep_daily: 7\n' "$i" "$i" "$i" "$i" > "$R/etc/borgmatic.d/b$i.yaml"
  echo "bench-borg-$i" > "$R/etc/borgmatic.d/b$i.pass"
  printf '[[backup.borgmatic]]\nconfig = "/etc/borgmatic.d/b%d.yaml"\nallowed_modes = ["repokey-blake2"]\n' "$i" >> "$PROF"
done
for i in $(seq 1 $NP); do
  d=$R/etc/pgbackrest$i
  mkdir -p "$d/conf.d" "$R/srv/pgbr$i/backup/main$i" "$R/srv/pgbr$i/archive/main$i"
  printf '[global]\nrepo1-path=/srv/pgbr%d\nrepo1-cipher-type=aes-256-cbc\nrepo1-retention-full=2\n\n[main%d]\npg1-path=/var/lib/postgresql/15/main\n' "$i" "$i" > "$d/pgbackrest.conf"
  printf '[global]\nrepo1-cipher-pass=bench-cipher-%d\n' "$i" > "$d/conf.d/cipher.conf"
  printf 'Salted__0123456789' > "$R/srv/pgbr$i/backup/main$i/backup.info"
  printf 'Salted__0123456789' > "$R/srv/pgbr$i/archive/main$i/archive.info"
  printf '[[backup.pgbackrest]]\nconfig = "/etc/pgbackrest%d/pgbackrest.conf"\nowner = "postgres"\ncipher = "aes-256-cbc"\n' "$i" >> "$PROF"
done
# In sync (all files 0600) and a copy of the root where every secret file is 0644.
find "$R/etc" -type f \( -name '*.env' -o -name '*.pass' -o -name '*.yaml' -o -name '*.conf' \) -exec chmod 0600 {} +
cp -a "$R" "$T/loose"
find "$T/loose/etc" -type f \( -name '*.env' -o -name '*.pass' \) -exec chmod 0644 {} +
printf '[backup]\n' > "$T/empty.toml"
echo "sets: $NR restic, $NB borgmatic$(command -v borg >/dev/null || echo ' (no borg: repos missing)'), $NP pgBackRest"
"$H" --root "$R" plan --profile "$PROF" | tail -1
"$H" --root "$T/loose" plan --profile "$PROF" | tail -1 || true
hyperfine -N --warmup 5 --runs 50 --style basic -i --export-json "$T/h.json" \
  -n "plan $N sets (in sync)" "$H --root $R plan -q --profile $PROF" \
  -n "plan $N sets (loose modes)" "$H --root $T/loose plan -q --profile $PROF" \
  -n 'baseline: empty [backup]' "$H --root $R plan -q --profile $T/empty.toml" >/dev/null
python3 - "$T/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["baseline: empty [backup]"]["median"]
ok = True
for name, x in r.items():
    m = x["median"] * 1000
    goal = "" if name.startswith("baseline") else ("  OK (< 50 ms)" if m < 50 else "  OVER 50 ms")
    ok &= m < 50 or name.startswith("baseline")
    cpu = (x["user"] + x["system"]) * 1000  # mean CPU time: less sensitive to a busy machine
    print(f"{name:28s} median {m:7.2f} ms  cpu {cpu:6.2f} ms  ratio to baseline {x['median']/base:6.2f}{goal}")
sys.exit(0 if ok else 1)
PY
for root in "$R" "$T/loose"; do
  /usr/bin/time -f "%M" "$H" --root "$root" plan -q --profile "$PROF" >/dev/null 2>"$T/time" || true
  echo "peak RSS $(tail -1 "$T/time") KiB  (plan $N sets, root $(basename "$root"))"
done
