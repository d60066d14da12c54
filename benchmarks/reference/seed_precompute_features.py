#!/usr/bin/env python3
"""The seed's feature precompute, for side-by-side timing against `cremad features`.

This is the original PyTorch pipeline's feature step as the parity fixtures record it
(tests/fixtures/logmel/manifest.json; torchaudio 0.13.1 / torch 1.13.1, Debian 12's
python3-torch and python3-torchaudio): per clip, load -> mix to mono -> resample to
16 kHz when needed -> divide by the waveform's std -> pre-emphasis 0.97 ->
MelSpectrogram(n_fft 1024, hop 256, 80 HTK mels 20-8000 Hz, slaney norm, no centring)
-> AmplitudeToDB; one float32 .npy per clip; then the train partition's per-band mean
and std. It is a benchmark reference, not part of the product: `cremad features` is
the product's implementation and is checked against the fixtures this code produced.

Checked against the recipe (tests/fixtures/logmel/README.md) by running it on a corpus made of the seven
fixture WAVs and comparing each .npy with its .logmel.f32: the 16, 22.05, 44.1 and 48 kHz fixtures match
within 8e-6 dB (max abs); the 8 kHz u8 one within 0.015 dB, the worst in band 76, about 100 dB below the
clip's peak in the resampler's stop band (float32 rounding; bands 0-49 within 8e-5 dB). Its decoded samples
equal the recipe's (x-128)/128 exactly.

Usage: seed_precompute_features.py --data-root CORPUS --output-dir OUT
CORPUS is the course layout (labels.csv with path,class,partition).
"""
import argparse
import csv
import json
import os
import sys
import time

import numpy as np
import torch
import torchaudio

SAMPLE_RATE = 16000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--output-dir", required=True)
    args = parser.parse_args()

    started = time.perf_counter()
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=1024, win_length=1024, hop_length=256, f_min=20.0, f_max=8000.0,
        n_mels=80, center=False, power=2.0, norm="slaney", mel_scale="htk")
    to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)

    with open(os.path.join(args.data_root, "labels.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))

    os.makedirs(args.output_dir, exist_ok=True)
    band_sum = np.zeros(80, dtype=np.float64)
    band_sq = np.zeros(80, dtype=np.float64)
    frames_total = 0
    index = []
    with torch.no_grad():
        for row in rows:
            waveform, rate = torchaudio.load(os.path.join(args.data_root, row["path"]))
            waveform = waveform.mean(dim=0, keepdim=True)
            if rate != SAMPLE_RATE:
                waveform = torchaudio.functional.resample(waveform, rate, SAMPLE_RATE)
            waveform = waveform / waveform.std().clamp_min(1e-9)
            waveform = torch.cat([waveform[:, :1], waveform[:, 1:] - 0.97 * waveform[:, :-1]], dim=1)
            features = to_db(mel(waveform)).squeeze(0).transpose(0, 1).contiguous().numpy()  # [frames, 80]
            name = os.path.splitext(row["path"].replace("/", "__"))[0] + ".npy"
            np.save(os.path.join(args.output_dir, name), features)
            index.append({"file": name, "class": int(row["class"]), "partition": row["partition"],
                          "frames": int(features.shape[0])})
            if row["partition"] == "train":
                band_sum += features.sum(axis=0, dtype=np.float64)
                band_sq += np.square(features, dtype=np.float64).sum(axis=0)
                frames_total += features.shape[0]

    mean = band_sum / frames_total
    std = np.sqrt(np.maximum(band_sq / frames_total - mean * mean, 0.0))
    with open(os.path.join(args.output_dir, "stats.json"), "w") as handle:
        json.dump({"mean": mean.tolist(), "std": std.tolist(), "train_frames": frames_total}, handle)
    with open(os.path.join(args.output_dir, "index.json"), "w") as handle:
        json.dump(index, handle)
    seconds = time.perf_counter() - started
    print(f"seed features: {len(rows)} clips in {seconds:.2f} s (after imports)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
