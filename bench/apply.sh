#!/usr/bin/env bash
# Benchmark: adding 50 rules to an enabled firewall with `harden apply` versus
# the same 50 `ufw allow` commands, from the same starting state, each run in
# a fresh private namespace with fresh copies of ufw's files. Reports median
# wall time of each, the ratio, and harden's peak memory.
# Usage: sudo bench/apply.sh [RUNS] [RULES]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}; N=${2:-50}
cargo build --release -q
H=$PWD/target/release/harden
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
base="[firewall]\nenabled = true\npurge = false\n[[firewall.rules]]\naction = \"limit\"\nport = 22\nproto = \"tcp\"\n"
printf "$base" > "$W/base.toml"
gen() { printf "$base"; for i in $(seq 1 "$1"); do printf '[[firewall.rules]]\naction = "allow"\nport = %d\nproto = "tcp"\n' $((10000 + i)); done; }
gen "$N" > "$W/fifty.toml"; gen $((N * 10)) > "$W/many.toml"
: > "$W/cmds"; for i in $(seq 1 "$N"); do echo "ufw allow $((10000 + i))/tcp >/dev/null" >> "$W/cmds"; done

one() { # $1 = harden|ufw [$2 = profile, $3 = expected count]; prints elapsed ms
  local prof=${2:-$W/fifty.toml} want=${3:-$N}
  local T; T=$(mktemp -d -p "$W"); cp -a /etc/ufw "$T/ufw"; cp -a /etc/default "$T/default"; mkdir "$T/b"
  unshare --net --mount --propagation private bash -c "
    mount --bind $T/ufw /etc/ufw; mount --bind $T/default /etc/default; mount --bind $T/b /var/backups; mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /var/log; ip link set lo up
    $H apply --yes -q --profile $W/base.toml
    s=\$(date +%s%N)
    if [ $1 = harden ]; then /usr/bin/time -f %M -o $W/rss $H apply --yes -q --profile $prof; else bash $W/cmds; fi
    e=\$(date +%s%N); echo \$(( (e - s) / 1000000 ))
    [ \$(iptables -S ufw-user-input | grep -c 'dport 1[0-9]') -eq $want ] || echo 'WRONG RULE COUNT' >&2"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for i in $(seq 1 "$RUNS"); do one harden; done > "$W/h"
for i in $(seq 1 "$RUNS"); do one ufw; done > "$W/u"
h=$(median < "$W/h"); u=$(median < "$W/u")
echo "harden apply, $N rules:   median ${h} ms  (runs: $(tr '\n' ' ' < "$W/h"))"
echo "$N x ufw allow:          median ${u} ms  (runs: $(tr '\n' ' ' < "$W/u"))"
echo "ratio (ufw / harden):     $(awk -v u="$u" -v h="$h" 'BEGIN {printf "%.1f", u / h}')x"
echo "harden apply peak RSS:    $(cat "$W/rss") KiB"
# Growth: ten times the rules should cost little more, since they go in one restore.
for i in $(seq 1 "$RUNS"); do one harden "$W/many.toml" $((N * 10)); done > "$W/m"
echo "harden apply, $((N * 10)) rules:  median $(median < "$W/m") ms  (runs: $(tr '\n' ' ' < "$W/m")), peak RSS $(cat "$W/rss") KiB"
