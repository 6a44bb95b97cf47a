"""Reproducible training recipe for the voice activity model (CPU, resumable).

``python -m gabortag.training.train_vad --data ../shared/data --extra /path/to/debs --out runs/vad``
logs one JSON line per evaluation to ``OUT/log.jsonl``, keeps ``OUT/last.pt`` (resume point)
and ``OUT/best.pt`` (best ROC-AUC on meetings development).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..evaluation import Reference, meetings_split, scores_on_grid
from ..metrics import detection_scores, roc_auc
from .labels import FRAME
from .optim import optimiser_step
from .vad_data import MixtureSampler, cached_pools, load_16k
from .vadnet import VadConfig, VadNet


def frame_probabilities(model: VadNet, wav: np.ndarray) -> np.ndarray:
    """Speech probability per output hop (20 ms) for a whole 16 kHz waveform, in torch."""
    n_out = -(-len(wav) // model.hop)
    if n_out == 0:
        return np.zeros(0, np.float32)
    total = model.receptive_field + (n_out - 1) * model.hop
    padded = np.zeros(total, np.float32)
    padded[model.left_pad : model.left_pad + len(wav)] = wav
    with torch.no_grad():
        logits = model(torch.from_numpy(padded)[None].to(model.mel_mean.device))[0]
    return torch.sigmoid(logits).cpu().numpy()[:n_out]


def dev_set(data_dir: Path) -> list[tuple[Reference, np.ndarray]]:
    """Meetings development references with their 16 kHz audio, decoded once."""
    return [(ref, load_16k(ref.audio)) for ref in meetings_split(data_dir, "development")]


def evaluate(model: VadNet, dev: list[tuple[Reference, np.ndarray]]) -> dict[str, float]:
    """ROC-AUC and frame F1 at a few thresholds, on the protocol of :mod:`gabortag.evaluation`."""
    model.eval()
    hop_s = model.hop / model.config.sample_rate
    ys, ss = [], []
    for ref, wav in dev:
        s = scores_on_grid(frame_probabilities(model, wav), hop_s, len(ref.labels))
        keep = ref.labels >= 0
        ys.append(ref.labels[keep] == 1)
        ss.append(s[keep])
    y, s = np.concatenate(ys), np.concatenate(ss)
    out = {"auc": roc_auc(y, s)}
    for thr in (0.3, 0.4, 0.5, 0.6, 0.7):
        out[f"f1@{thr}"] = detection_scores(y, s >= thr).f1
    model.train()
    return out


def mel_statistics(model: VadNet, sampler: MixtureSampler, n: int) -> None:
    feats = []
    with torch.no_grad():
        for _ in range(n):
            x, _ = sampler(model.receptive_field * 4)
            feats.append(model.frontend(torch.from_numpy(x)[None])[0])
    f = torch.cat(feats, dim=1)
    model.mel_mean.copy_(f.mean(dim=1, keepdim=True))
    model.mel_std.copy_(f.std(dim=1, keepdim=True).clamp_min(1e-3))


def batch(
    model: VadNet, sampler: MixtureSampler, size: int, n_out: int
) -> tuple[torch.Tensor, torch.Tensor]:
    n = model.receptive_field + (n_out - 1) * model.hop
    xs, ys = [], []
    for _ in range(size):
        x, mask = sampler(n + FRAME)
        x = x[:n]
        samples = np.repeat(mask, FRAME)[model.left_pad : model.left_pad + n_out * model.hop]
        ys.append(samples.reshape(n_out, model.hop).mean(axis=1))
        xs.append(x)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys).astype(np.float32))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--extra", type=Path, default=None, help="unpacked Debian audio packages")
    p.add_argument("--out", type=Path, default=Path("runs/vad"))
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seconds", type=float, default=5.0, help="scored seconds per example")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pools = cached_pools(args.data, args.extra, args.out / "pools.pkl")
    print(
        f"pools: {len(pools.speech)} speech clips, {len(pools.noise)} non-speech, "
        f"{len(pools.long_speech)} meetings ({time.time() - t0:.0f}s)",
        flush=True,
    )
    (args.out / "pool_counts.json").write_text(json.dumps(pools.counts, indent=1))
    sampler = MixtureSampler(pools, seed=args.seed)
    model = VadNet(VadConfig(), seed=args.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / 100)
            * 0.5
            * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))
        ),
    )
    step, best = 0, -1.0
    last = args.out / "last.pt"
    if last.exists():
        ck = torch.load(last, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        sampler.rng.bit_generator.state = ck["sampler"]
        torch.set_rng_state(ck["torch_rng"])
        step, best = ck["step"], ck["best"]
        print(f"resumed at step {step}", flush=True)
    else:
        mel_statistics(model, sampler, 200)
    dev = dev_set(args.data)
    n_out = int(args.seconds * model.config.sample_rate / model.hop)
    loss_fn = nn.BCEWithLogitsLoss()
    running, t_last = 0.0, time.time()
    while step < args.steps:
        x, y = batch(model, sampler, args.batch, n_out)
        running += optimiser_step(model, opt, sched, loss_fn(model(x), y))
        step += 1
        if step % 20 == 0:
            print(
                f"step {step} loss {running / 20:.4f} {(time.time() - t_last) / 20:.2f}s/step",
                flush=True,
            )
            running, t_last = 0.0, time.time()
        if step % args.eval_every == 0 or step == args.steps:
            metrics = evaluate(model, dev)
            record = {"step": step, "time_s": round(time.time() - t0), **metrics}
            with open(args.out / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)
            state = {"model": model.state_dict(), "config": model.config.to_dict(), "step": step}
            if metrics["auc"] > best:
                best = metrics["auc"]
                torch.save({**state, "dev": metrics}, args.out / "best.pt")
            torch.save(
                {
                    **state,
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "best": best,
                    "sampler": sampler.rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                },
                args.out / "last.pt.tmp",
            )
            (args.out / "last.pt.tmp").replace(last)


if __name__ == "__main__":
    main()
