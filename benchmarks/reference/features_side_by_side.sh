#!/usr/bin/env bash
# Side-by-side: the original torchaudio feature step (seed_precompute_features.py) against `cremad features`,
# on the same machine and corpus, as whole processes (interpreter/runtime start-up, imports and JIT included).
#
# Each pair runs the original, then cremad (alternating, so a change in background load hits both), each into a
# freshly deleted output folder, after one untimed read of the corpus (warm page cache for both). Every process is
# timed by /usr/bin/time (wall, user, sys, peak RSS). Prints each run, the medians and the ratio of median wall
# times, and writes the same as JSON. Builds nothing: build cremad first (Release).
#
# Usage: features_side_by_side.sh --data-root CORPUS [--cremad PATH] [--pairs N] [--json FILE] [--work DIR]
#   --cremad  default: src/CremaD.Cli/bin/Release/net10.0/cremad of this repository
#   --pairs   default 3
#   --json    default: side_by_side.json in the current folder
#   --work    where the two output folders go (default: a new temporary folder, removed at the end)
# The original runs with torch's default intra-op threads (that is the original pipeline) and, to give it its best
# case, with an optimised BLAS if one is installed (Debian: apt-get install libopenblas0-pthread; its mel-filterbank
# matrix product takes ~3 ms a clip on the reference BLAS) limited to one thread (OPENBLAS_NUM_THREADS=1: with its
# default threads it spent more time in the kernel than computing, 22.8 s wall against 18.5 s here). cremad runs with
# its default workers (one per processor). Before every timed process the output folders are deleted and `sync`
# writes back the previous process's files, so neither pays for the other's disk writes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data_root=""
cremad="$repo/src/CremaD.Cli/bin/Release/net10.0/cremad"
pairs=3
json="side_by_side.json"
work=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data-root) data_root="$2"; shift 2 ;;
    --cremad) cremad="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    --json) json="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -n "$data_root" && -f "$data_root/labels.csv" ]] || { echo "--data-root must be a corpus with labels.csv" >&2; exit 2; }
[[ -x "$cremad" ]] || { echo "cremad not found at $cremad (dotnet build src/CremaD.Cli -c Release, or --cremad PATH)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time is needed (apt-get install time)" >&2; exit 2; }
python=/usr/bin/python3
"$python" -c 'import torch, torchaudio' 2>/dev/null \
  || { echo "$python cannot import torch/torchaudio (apt-get install python3-torchaudio)" >&2; exit 2; }

own_work=0
if [[ -z "$work" ]]; then work="$(mktemp -d)"; own_work=1; fi
mkdir -p "$work"
cleanup() { rm -rf "$work/original" "$work/cremad"; if [[ $own_work -eq 1 ]]; then rm -rf "$work"; fi; }
trap cleanup EXIT

# Warm page cache: both contenders read the corpus from memory, so neither pays for the disk.
find "$data_root" -type f -name '*.wav' -print0 | xargs -0 cat > /dev/null
cat "$data_root/labels.csv" > /dev/null

# Runs one whole process into a fresh output folder; appends "wall user sys maxrss_kib" to $work/<name>.times.
timed() {
  local name="$1"; shift
  rm -rf "${work:?}/original" "${work:?}/cremad"
  sync
  /usr/bin/time -f "%e %U %S %M" -o "$work/$name.last" "$@" > "$work/$name.log" 2>&1 \
    || { echo "$name failed; its output:" >&2; cat "$work/$name.log" >&2; exit 1; }
  cat "$work/$name.last" >> "$work/$name.times"
  read -r wall user sys rss < "$work/$name.last"
  printf '%-8s pair %d: wall %6.2f s  user %6.2f s  sys %5.2f s  peak RSS %4d MiB\n' "$name" "$pair" "$wall" "$user" "$sys" $((rss / 1024))
}

rm -f "$work/original.times" "$work/cremad.times"
blas="$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)"
echo "corpus: $data_root ($(($(wc -l < "$data_root/labels.csv") - 1)) clips); $(nproc) processors; $pairs pairs; original's BLAS: $blas"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
for ((pair = 1; pair <= pairs; pair++)); do
  timed original "$python" "$here/seed_precompute_features.py" --data-root "$data_root" --output-dir "$work/original"
  timed cremad "$cremad" features --data-root "$data_root" --output-dir "$work/cremad"
done

# Medians (per column) and the ratio, printed and written as JSON.
"$python" - "$work/original.times" "$work/cremad.times" "$json" "$data_root" "$cremad" "$pairs" <<'PY'
import json, os, statistics, sys
original_file, cremad_file, out, data_root, cremad, pairs = sys.argv[1:]
def load(path):
    rows = [tuple(float(v) for v in line.split()) for line in open(path) if line.strip()]
    return [{"wall_s": r[0], "user_s": r[1], "sys_s": r[2], "peak_rss_mib": r[3] / 1024} for r in rows]
def median(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}
original, cremad_runs = load(original_file), load(cremad_file)
mo, mc = median(original), median(cremad_runs)
ratio = mo["wall_s"] / mc["wall_s"]
cpu_ratio = (mo["user_s"] + mo["sys_s"]) / (mc["user_s"] + mc["sys_s"])
for name, m in (("original", mo), ("cremad", mc)):
    print(f"median {name:8s}: wall {m['wall_s']:.2f} s, user {m['user_s']:.2f} s, sys {m['sys_s']:.2f} s, peak RSS {m['peak_rss_mib']:.0f} MiB")
print(f"ratio (median wall, original / cremad): {ratio:.1f}x; CPU (user+sys): {cpu_ratio:.1f}x")
clips = sum(1 for _ in open(os.path.join(data_root, "labels.csv"))) - 1
json.dump({"corpus": os.path.abspath(data_root), "clips": clips, "processors": os.cpu_count(), "pairs": int(pairs),
           "cremad": os.path.abspath(cremad), "original": original, "cremad_runs": cremad_runs,
           "median_original": mo, "median_cremad": mc, "wall_ratio": ratio, "cpu_ratio": cpu_ratio},
          open(out, "w"), indent=2)
print(f"json: {out}")
PY
