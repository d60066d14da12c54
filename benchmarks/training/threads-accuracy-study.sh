#!/usr/bin/env bash
# Same learning at every thread count: trains the recipe with --threads 1 and with more threads over several seeds
# on one feature store, evaluates each model on the test partition, and prints test accuracy and macro-F1 per run
# plus mean and standard deviation per thread count. Results are deterministic for a given seed and thread count, so
# the machine's load changes only the time this takes, not the table.
#
#   benchmarks/training/threads-accuracy-study.sh FEATURES_DIR [EPOCHS=15] [SEEDS="1 2 3"] [THREADS="1 2"]
#
# CREMAD (default: the Release build of src/CremaD.Cli) selects the binary; OUT (default: a temporary folder) keeps
# the models. Used for the README's "Same learning" figures (small synthetic corpus: synth_cremad.py --actors 24
# --sentences 6).
set -euo pipefail
features=${1:?usage: $0 FEATURES_DIR [EPOCHS] [SEEDS] [THREADS]}
epochs=${2:-15}
seeds=${3:-1 2 3}
threads_list=${4:-1 2}
root=$(cd "$(dirname "$0")/../.." && pwd)
cremad=${CREMAD:-$root/src/CremaD.Cli/bin/Release/net10.0/cremad}
out=${OUT:-$(mktemp -d -t cremad-threads-study.XXXXXX)}
[[ -x $cremad ]] || { echo "no cremad binary at $cremad (dotnet build src/CremaD.Cli -c Release)" >&2; exit 2; }

results=$out/results.tsv
printf 'threads\tseed\ttest_accuracy\tmacro_f1\ttrain_seconds\n' > "$results"
for threads in $threads_list; do
  for seed in $seeds; do
    model=$out/t$threads-s$seed
    start=$(date +%s.%N)
    "$cremad" train --features-dir "$features" --epochs "$epochs" --seed "$seed" --threads "$threads" -o "$model" > "$model.train.log" 2>&1
    end=$(date +%s.%N)
    "$cremad" evaluate -m "$model" -f "$features" -o "$model/eval" > "$model.eval.log" 2>&1
    python3 - "$model/eval" "$threads" "$seed" "$(echo "$end - $start" | bc)" >> "$results" <<'PY'
import json, sys
folder, threads, seed, seconds = sys.argv[1:]
metrics = json.load(open(f"{folder}/test_metrics.json"))
accuracy, macro = metrics["test_accuracy"], metrics["macro_f1"]
print(f"{threads}\t{seed}\t{accuracy:.4f}\t{macro:.4f}\t{float(seconds):.1f}")
PY
    tail -1 "$results" >&2
  done
done

python3 - "$results" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"{'threads':>7}  {'seeds':>5}  {'test acc mean ± sd':>20}  {'macro-F1 mean ± sd':>20}  {'train s (mean)':>14}")
for threads in dict.fromkeys(r["threads"] for r in rows):
    group = [r for r in rows if r["threads"] == threads]
    acc = [100 * float(r["test_accuracy"]) for r in group]
    f1 = [float(r["macro_f1"]) for r in group]
    secs = [float(r["train_seconds"]) for r in group]
    sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0
    print(f"{threads:>7}  {len(group):>5}  {statistics.mean(acc):>12.1f} ± {sd(acc):.1f} %  {statistics.mean(f1):>13.3f} ± {sd(f1):.3f}  {statistics.mean(secs):>14.1f}")
    print("         per seed: " + ", ".join(f"seed {r['seed']}: {100*float(r['test_accuracy']):.1f} % / {float(r['macro_f1']):.3f}" for r in group))
PY
echo "models and logs: $out" >&2
