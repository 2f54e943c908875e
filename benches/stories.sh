#!/usr/bin/env bash
# Publish and fetch of a whole dataset with `dataseal`, side by side in one run with the
# equivalent chain of peer tools:
#
#   publish: rage -e (one process per file, X25519)  then  ipfs-car pack (a CARv1 file)
#   fetch:   ipfs-car unpack                          then  rage -d (one per file)
#
# against `dataseal publish` (quarantine, encryption, chunk CIDs, placement, manifest,
# signature, envelope) into a `dir:` store and `dataseal fetch` (envelope, signatures,
# policy decision, key release, verified reads, decryption, receipt) out of it.
#
#   benches/stories.sh big   [RUNS] [WORKDIR]   # 64 files x 32 MiB = 2 GiB
#   benches/stories.sh small [RUNS] [WORKDIR]   # 20,000 files x 10 KiB = 0.19 GiB
#   benches/stories.sh tiny  1                  # 8 files x 64 KiB: checks the script only
#
# DATASEAL_BIN names another `dataseal` binary than the release build (e.g. a debug one,
# for `tiny`).
#
# Prints, per step and tool, wall seconds (min / median / max of RUNS, default 3), CPU
# seconds (user + system, median run) and peak resident memory (max over runs). WORKDIR
# (default: a new directory under /dev/shm, so the disk is not measured) needs room for
# about 4x the dataset. rage must be on PATH (`cargo install rage --version 0.12.1`);
# ipfs-car is installed once from benches/ipfs-car/package-lock.json with `npm ci`.
set -euo pipefail

shape=${1:?usage: stories.sh big|small [RUNS] [WORKDIR]}
runs=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${3:-$(mktemp -d /dev/shm/dataseal-stories.XXXXXX)}
mkdir -p "$work"

case "$shape" in
big) count=64 size=$((32 << 20)) ;;
small) count=20000 size=$((10 << 10)) ;;
tiny) count=8 size=$((64 << 10)) ;;
*) echo "unknown shape $shape: big, small or tiny" >&2; exit 2 ;;
esac

command -v rage >/dev/null || { echo "rage is not on PATH" >&2; exit 2; }
car_dir="$root/target/bench-ipfs-car"
car="$car_dir/node_modules/.bin/ipfs-car"
if [ ! -x "$car" ]; then
  mkdir -p "$car_dir"
  cp "$root/benches/ipfs-car/package.json" "$root/benches/ipfs-car/package-lock.json" "$car_dir/"
  (cd "$car_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ -n "${DATASEAL_BIN:-}" ]; then
  ds=$(cd "$(dirname "$DATASEAL_BIN")" && pwd)/$(basename "$DATASEAL_BIN")
else
  (cd "$root" && cargo build --release --locked -p dataseal-examples --bin dataseal >&2)
  ds="$root/target/release/dataseal"
fi

# The dataset: incompressible bytes, generated once.
src="$work/src"
if [ ! -f "$work/src.done" ]; then
  rm -rf "$src"
  mkdir -p "$src"
  python3 - "$src" "$count" "$size" <<'EOF'
import os, sys
src, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
    d = os.path.join(src, f"part-{i // 1000:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file-{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(size))
EOF
  touch "$work/src.done"
fi

# Keys, metadata, a grant and the policy inputs, as a user would write them.
cd "$work"
rm -rf keys .dataseal
"$ds" keygen --out keys/publisher >/dev/null 2>>"$work/setup.log"
"$ds" keygen --out keys/reader >/dev/null 2>>"$work/setup.log"
"$ds" keygen --out keys/grants >/dev/null 2>>"$work/setup.log"
"$ds" keygen --out keys/audit >/dev/null 2>>"$work/setup.log"
cat >meta.json <<'EOF'
{"datasetId":"bench","version":"1.0.0","license":"CC-BY-4.0",
 "licenseConditions":{"academicUse":true,"attribution":true,"commercialUse":true,
 "nonCommercialUse":true,"shareAlike":false,"tier":"open"},
 "purposes":["research","training"],"regions":["EU"],"sensitivity":"internal"}
EOF
cat >entities.json <<'EOF'
{"entities":[{"uid":{"type":"Dataseal::User","id":"tess"},"attrs":{},
  "parents":[{"type":"Dataseal::Role","id":"trainer"},{"type":"Dataseal::Group","id":"acme"}]}]}
EOF
cat >record.json <<'EOF'
{"owner":"olivia","organisation":"acme","uploader":"ulrich","specialCategoryData":false,
 "state":{"legalHold":false,"revoked":false,"quarantined":false,"erased":false}}
EOF
recipient=$(cat keys/reader/recipient.pub)

# One measured command: appends "wall user sys maxrss_kib" to $1.
measure() {
  local out=$1
  shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.one" "$@" >/dev/null 2>"$work/stderr.one" || {
    cat "$work/stderr.one" >&2
    return 1
  }
  cat "$work/time.one" >>"$out"
}

# The chain's publish: every file encrypted by its own rage process, then packed.
chain_publish() {
  rm -rf enc enc.car
  (cd src && find . -type d -exec mkdir -p ../enc/{} \;)
  (cd src && find . -type f -print0 | xargs -0 -P 1 -I{} rage -e -r "$recipient" -o ../enc/{} {})
  "$car" pack enc --output enc.car
}
chain_fetch() {
  rm -rf unpacked plain
  "$car" unpack enc.car --output unpacked
  (cd unpacked && find . -type d -exec mkdir -p ../plain/{} \;)
  (cd unpacked && find . -type f -print0 | xargs -0 -P 1 -I{} rage -d -i ../keys/reader/recipient.key -o ../plain/{} {})
}
export -f chain_publish chain_fetch
export recipient car work

ds_publish() {
  rm -rf store .dataseal
  "$ds" publish --store "bench@DE=dir:$work/store" --key keys/publisher/signing.key=publisher \
    --recipient "$recipient" --meta meta.json --replicas 1 src >cid.txt
}
ds_fetch() {
  rm -rf out audit.jsonl*
  "$ds" fetch --store "bench@DE=dir:$work/store" --trust keys/publisher/signing.pub=publisher \
    --identity keys/reader/recipient.key --entities entities.json --record record.json \
    --grant grant.txt --grant-key keys/grants/signing.pub --principal user:tess \
    --purpose training --region DE --audit-log audit.jsonl --audit-key keys/audit/signing.key \
    "$(cat cid.txt)" out
}
export -f ds_publish ds_fetch
export ds

results="$work/results"
rm -rf "$results"
mkdir -p "$results"
for i in $(seq "$runs"); do
  measure "$results/chain-publish" bash -c chain_publish
  measure "$results/dataseal-publish" bash -c ds_publish
  # Every publish makes a new data key, so a new manifest CID: the grant names it.
  "$ds" grant issue --key keys/grants/signing.key --issuer bench --principal user:tess \
    --cid "$(cat cid.txt)" --action train --purpose training --region DE >grant.txt 2>>"$work/setup.log"
  measure "$results/chain-fetch" bash -c chain_fetch
  measure "$results/dataseal-fetch" bash -c ds_fetch
  cmp -s <(cd src && find . -type f -exec sha256sum {} + | sort -k2) \
    <(cd out && find . -type f -exec sha256sum {} + | sort -k2) || {
    echo "dataseal fetch did not give back the source" >&2
    exit 1
  }
done

bytes=$((count * size))
printf '%s: %d files, %d bytes, %d runs, %s\n' "$shape" "$count" "$bytes" "$runs" "$(nproc) cores"
printf '%-18s %8s %8s %8s %9s %8s %10s\n' step min_s median_s max_s MiB/s cpu_s peak_MiB
for step in chain-publish dataseal-publish chain-fetch dataseal-fetch; do
  sort -n "$results/$step" | awk -v step="$step" -v bytes="$bytes" '
    { wall[NR] = $1; cpu[NR] = $2 + $3; if ($4 > peak) peak = $4 }
    END {
      m = int((NR + 1) / 2)
      printf "%-18s %8.2f %8.2f %8.2f %9.0f %8.2f %10.1f\n", step, wall[1], wall[m], wall[NR],
        bytes / wall[m] / 1048576, cpu[m], peak / 1024
    }'
done
