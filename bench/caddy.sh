#!/usr/bin/env bash
# Benchmark: `harden plan` (parse, expand, header model, edits, self-check) of a generated
# Caddyfile with N sites (default 5,000) and N/2 sites, side by side with `caddy adapt` of the
# same files, plus the multi-tenant layout (one file per site, `import sites/*.caddy`).
# Reports medians (hyperfine), the ratio to caddy adapt, the N/(N/2) ratio (linearity), and
# peak memory. Nothing outside a temp dir is touched; no caddy is started.
# Usage: bench/caddy.sh [N]   (needs caddy, hyperfine, python3; /usr/bin/time for memory)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
cargo build --release -q
H=${CARGO_TARGET_DIR:-$PWD/target}/release/harden
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
gen() { # gen COUNT ROOT
  mkdir -p "$2/etc/caddy"
  {
    printf '{\n\temail ops@example.com\n}\n'
    for i in $(seq 1 "$1"); do
      printf '\nsite%d.example.com {\n\theader X-Frame-Options SAMEORIGIN\n\treverse_proxy localhost:%d\n}\n' "$i" $((10000 + i % 50000))
    done
  } > "$2/etc/caddy/Caddyfile"
}
gen "$N" "$T/big"
gen $((N / 2)) "$T/half"
# The same sites, one file each, imported by a glob from the main Caddyfile.
mkdir -p "$T/multi/etc/caddy/sites"
printf '{\n\temail ops@example.com\n}\n\nimport sites/*.caddy\n' > "$T/multi/etc/caddy/Caddyfile"
for i in $(seq 1 "$N"); do
  printf 'site%d.example.com {\n\theader X-Frame-Options SAMEORIGIN\n\treverse_proxy localhost:%d\n}\n' "$i" $((10000 + i % 50000)) > "$T/multi/etc/caddy/sites/s$i.caddy"
done
# version in the profile: the benchmark measures harden, not a `caddy version` spawn.
printf '[caddy]\nreload = "none"\nversion = "2.6.2"\npreset = "owasp"\n' > "$T/profile.toml"
export HOME=$T/home XDG_DATA_HOME=$T/home/data XDG_CONFIG_HOME=$T/home/config
mkdir -p "$HOME"
hyperfine -N --warmup 2 --runs 15 --style basic -i --export-json "$T/h.json" \
  -n "harden plan ($N sites)" "$H --root $T/big plan -q --profile $T/profile.toml" \
  -n "harden plan ($((N / 2)) sites)" "$H --root $T/half plan -q --profile $T/profile.toml" \
  -n "caddy adapt ($N sites)" "caddy adapt --config $T/big/etc/caddy/Caddyfile --adapter caddyfile" \
  -n "caddy adapt ($((N / 2)) sites)" "caddy adapt --config $T/half/etc/caddy/Caddyfile --adapter caddyfile" \
  -n "harden plan ($N site files)" "$H --root $T/multi plan -q --profile $T/profile.toml" \
  -n "caddy adapt ($N site files)" "caddy adapt --config $T/multi/etc/caddy/Caddyfile --adapter caddyfile" >/dev/null
python3 - "$T/h.json" "$N" <<'PY'
import json, sys
n = int(sys.argv[2])
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
hb, hh = r[f"harden plan ({n} sites)"], r[f"harden plan ({n // 2} sites)"]
cb, ch = r[f"caddy adapt ({n} sites)"], r[f"caddy adapt ({n // 2} sites)"]
for name, m in r.items():
    print(f"{name:28s} median {m * 1000:8.1f} ms")
print(f"harden / caddy adapt at {n} sites: {hb / cb:.3f}")
print(f"linearity ({n} vs {n // 2} sites): harden {hb / hh:.2f}, caddy adapt {cb / ch:.2f} (2.00 = linear)")
hm, cm = r[f"harden plan ({n} site files)"], r[f"caddy adapt ({n} site files)"]
print(f"harden / caddy adapt with {n} site files: {hm / cm:.3f}")
PY
# Drift detection: the same 5,000 sites after `harden apply` (every site imports the managed
# snippet), planned again: nothing to change. apply runs `caddy validate` once (a few seconds).
cp -r "$T/big" "$T/synced"
if ! "$H" --root "$T/synced" apply --yes -q --profile "$T/profile.toml" >/dev/null; then
  echo "harden apply of $N sites failed; no in-sync measurement" >&2
  exit 1
fi
hyperfine -N --warmup 2 --runs 15 --style basic --export-json "$T/s.json" \
  -n "harden plan ($N sites, in sync)" "$H --root $T/synced plan -q --profile $T/profile.toml" >/dev/null
python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][0]; print(f\"{r['command']:28s} median {r['median'] * 1000:8.1f} ms\")" "$T/s.json"
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "peak RSS %M KiB  harden plan ($N sites)" "$H" --root "$T/big" plan -q --profile "$T/profile.toml" 2>&1 >/dev/null | tail -1 || true
  /usr/bin/time -f "peak RSS %M KiB  caddy adapt ($N sites)" caddy adapt --config "$T/big/etc/caddy/Caddyfile" --adapter caddyfile 2>&1 >/dev/null | tail -1 || true
else
  echo "peak memory: /usr/bin/time not installed (apt-get install time)"
fi
