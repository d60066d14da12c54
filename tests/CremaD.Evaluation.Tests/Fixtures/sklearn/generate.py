"""Regenerates the scikit-learn parity fixtures for ClassificationReportParityTests.

Each case_<name>.input.json holds class names and label lists; case_<name>.report.json is exactly what
json.dump(classification_report(..., output_dict=True), f, indent=2) writes for them.
Generated with scikit-learn 1.2.1 / NumPy 1.24.2 (Debian 12: apt-get install python3-sklearn):
    python3 generate.py
"""
import json
import random

from sklearn.metrics import classification_report

EMOTIONS = ["anger", "disgust", "fear", "happy", "neutral", "sad"]


def noisy(rng, n, k, accuracy, bias=None):
    y_true = [rng.randrange(k) for _ in range(n)]
    y_pred = []
    for t in y_true:
        if rng.random() < accuracy:
            y_pred.append(t)
        elif bias is not None and rng.random() < 0.5:
            y_pred.append(bias)
        else:
            y_pred.append(rng.randrange(k))
    return y_true, y_pred


def main():
    rng = random.Random(20240611)
    cases = {
        # class 2 is never predicted, class 3 never occurs
        "edge": (["a", "b", "c", "d"], [0, 0, 0, 1, 1, 2, 2, 2, 0, 1], [0, 1, 0, 1, 3, 0, 1, 0, 0, 1]),
        "emotions": (EMOTIONS, *noisy(rng, 311, 6, 0.55, bias=4)),
        "perfect": (EMOTIONS, [i % 6 for i in range(60)], [i % 6 for i in range(60)]),
        "one_class_predicted": (EMOTIONS, [i % 6 for i in range(37)], [3] * 37),
        "ten_classes": ([f"class {i}" for i in range(10)], *noisy(rng, 1009, 10, 0.4)),
        "many_classes": ([f"c{i:03d}" for i in range(300)], *noisy(rng, 5000, 300, 0.3)),
    }
    for name, (names, y_true, y_pred) in cases.items():
        with open(f"case_{name}.input.json", "w") as f:
            json.dump({"classes": names, "y_true": y_true, "y_pred": y_pred}, f)
        report = classification_report(
            y_true, y_pred, labels=list(range(len(names))), target_names=names, output_dict=True, zero_division="warn")
        with open(f"case_{name}.report.json", "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
