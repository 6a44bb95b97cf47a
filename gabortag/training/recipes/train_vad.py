"""Reproducible training recipe for the voice activity model (CPU, resumable).

``python -m gabortag.training.recipes.train_vad --data ../shared/data --extra DIR --suites
SUITES --out runs/vad`` trains on the ``train`` sources of
:mod:`gabortag.training.recipes.vad_sources` (``DIR`` from ``scripts/fetch_training_data.sh``),
evaluates every ``--eval-every`` steps on the pooled development suite of
:mod:`gabortag.training.recipes.vad_suites` (held-out sources only), logs one JSON line per
evaluation to ``OUT/log.jsonl`` (pooled and per-group ROC-AUC), keeps ``OUT/last.pt`` (resume
point: run the same command again to go on) and ``OUT/best.pt`` (best pooled development
ROC-AUC). The four Gabor parameters of each kernel learn at ``--gabor- lr-scale`` times the
learning rate of the rest; ``OUT/gabor_init.pt`` keeps their initial values.
Mixtures are drawn in a second process while the network trains.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...tasks.vad.evaluate import Reference, scores_on_grid
from ...tasks.vad.metrics import detection_scores, roc_auc
from ..nets.framenet import VadConfig, VadNet
from ..optim import CLIP_NORM
from .labels import FRAME
from .vad_data import MixtureSampler, Pools, cached_pools, load_16k
from .vad_sources import Roots
from .vad_suites import load_suite

GABOR_PARAMS = ("log_sigma_t", "log_sigma_f", "freq_logit", "gamma")
DEFAULT_CONFIG = VadConfig(
    n_kernels=32,
    channels=64,
    dilations=(1, 2, 4, 8, 16),
    floor_smooth=21,
    floor_window=151,
)


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


Suite = dict[str, list[tuple[Reference, np.ndarray]]]


def decode_suite(groups: dict[str, list[Reference]]) -> Suite:
    """Each group's references with their 16 kHz audio, decoded once."""
    return {g: [(ref, load_16k(ref.audio)) for ref in refs] for g, refs in groups.items()}


def evaluate(model: VadNet, suite: Suite) -> dict[str, float]:
    """Pooled ROC-AUC (``auc``), each group's (``auc/<group>``) and their mean, and pooled
    frame F1 at a few thresholds (10 ms frames inside each file's scored region, as
    :mod:`gabortag.tasks.vad.evaluate` scores)."""
    model.eval()
    hop_s = model.hop / model.config.sample_rate
    out: dict[str, float] = {}
    ys, ss = [], []
    for group, items in suite.items():
        gy, gs = [], []
        for ref, wav in items:
            s = scores_on_grid(frame_probabilities(model, wav), hop_s, len(ref.labels))
            keep = ref.labels >= 0
            gy.append(ref.labels[keep] == 1)
            gs.append(s[keep])
        y, s = np.concatenate(gy), np.concatenate(gs)
        out[f"auc/{group}"] = roc_auc(y, s)
        ys.append(y)
        ss.append(s)
    y, s = np.concatenate(ys), np.concatenate(ss)
    out["mean_group_auc"] = float(np.mean(list(out.values())))
    out["auc"] = roc_auc(y, s)
    for thr in (0.3, 0.5, 0.7):
        out[f"f1@{thr}"] = detection_scores(y, s >= thr).f1
    model.train()
    return out


def mel_statistics(model: VadNet, sampler: Any, n: int) -> None:
    """Per-band mean and standard deviation of the (floor-relative) log-mel of ``n`` draws."""
    feats = []
    with torch.no_grad():
        for _ in range(n):
            x, _ = sampler(model.receptive_field * 4)
            mel = model.frontend(torch.from_numpy(x)[None])
            if model.floor is not None:
                mel = model.floor(mel)
            feats.append(mel[0])
    f = torch.cat(feats, dim=1)
    model.mel_mean.copy_(f.mean(dim=1, keepdim=True))
    model.mel_std.copy_(f.std(dim=1, keepdim=True).clamp_min(1e-3))


@dataclass(frozen=True)
class Geometry:
    """What :func:`batch` needs of a network: its receptive field, hop and left pad (samples)."""

    receptive_field: int
    hop: int
    left_pad: int


def batch(
    model: VadNet | Geometry, sampler: Any, size: int, n_out: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``size`` mixtures as ``(B, receptive + (n_out - 1) hop)`` audio and ``(B, n_out)`` soft
    targets (the speech fraction of each output hop)."""
    n = model.receptive_field + (n_out - 1) * model.hop
    xs, ys = [], []
    for _ in range(size):
        x, mask = sampler(n + FRAME)
        x = x[:n]
        samples = np.repeat(mask, FRAME)[model.left_pad : model.left_pad + n_out * model.hop]
        ys.append(samples.reshape(n_out, model.hop).mean(axis=1))
        xs.append(x)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys).astype(np.float32))


def _producer(
    pools_path: str, seed: int, geometry: Geometry, size: int, n_out: int, queue: Any
) -> None:
    """Worker process: draws batches forever into ``queue``."""
    import pickle

    torch.set_num_threads(1)
    with open(pools_path, "rb") as f:
        pools: Pools = pickle.load(f)
    sampler = MixtureSampler(pools, seed=seed)
    while True:
        queue.put(batch(geometry, sampler, size, n_out))


def gabor_movement(model: VadNet, init: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean absolute change of each Gabor parameter since ``init`` (their own units)."""
    named = dict(model.gabor.named_parameters())
    return {
        k: round(float((named[k].detach() - init[k]).abs().mean()), 4) for k in init if k in named
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--data", type=Path, required=True, help="the labelled data folder (../shared/data)"
    )
    p.add_argument("--extra", type=Path, required=True, help="scripts/fetch_training_data.sh DIR")
    p.add_argument("--suites", type=Path, required=True, help="vad_suites output folder")
    p.add_argument("--out", type=Path, default=Path("runs/vad"))
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seconds", type=float, default=6.0, help="scored seconds per example")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--gabor-lr-scale", type=float, default=10.0)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument(
        "--stop-at",
        type=int,
        default=None,
        help="stop after this step, schedule unchanged (equal-budget comparisons, ablations)",
    )
    p.add_argument("--first-layer", choices=("gabor", "conv", "none"), default="gabor")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pools_path = args.out / "pools.pkl"
    pools = cached_pools(Roots(args.data, args.extra), pools_path)
    (args.out / "pool_seconds.json").write_text(json.dumps(pools.seconds, indent=1))
    print(f"pools ready ({time.time() - t0:.0f}s)", flush=True)
    config = replace(DEFAULT_CONFIG, first_layer=args.first_layer)
    model = VadNet(config, seed=args.seed)
    print(
        f"parameters {sum(p.numel() for p in model.parameters())}, "
        f"receptive field {model.receptive_field / 16000:.3f} s",
        flush=True,
    )
    gabor = [p for n, p in model.named_parameters() if n.split(".")[-1] in GABOR_PARAMS]
    rest = [p for n, p in model.named_parameters() if n.split(".")[-1] not in GABOR_PARAMS]
    opt = torch.optim.AdamW(
        [
            {"params": rest, "lr": args.lr, "weight_decay": 1e-4},
            {"params": gabor, "lr": args.lr * args.gabor_lr_scale, "weight_decay": 0.0},
        ]
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / 200)
            * 0.5
            * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))
        ),
    )
    step, best = 0, -1.0
    last = args.out / "last.pt"
    init_path = args.out / "gabor_init.pt"
    if last.exists():
        ck = torch.load(last, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        step, best = ck["step"], ck["best"]
        print(f"resumed at step {step}", flush=True)
    else:
        mel_statistics(model, MixtureSampler(pools, seed=args.seed + 999), 200)
        torch.save({k: v.detach().clone() for k, v in model.gabor.named_parameters()}, init_path)
    init = torch.load(init_path) if init_path.exists() else {}
    del pools
    dev = decode_suite(load_suite(args.suites, args.data, "dev"))
    n_out = int(args.seconds * model.config.sample_rate / model.hop)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue(maxsize=4)
    geometry = Geometry(model.receptive_field, model.hop, model.left_pad)
    worker = ctx.Process(
        target=_producer,
        args=(str(pools_path), args.seed * 1000 + step, geometry, args.batch, n_out, queue),
        daemon=True,
    )
    worker.start()
    loss_fn = nn.BCEWithLogitsLoss()
    running, t_last = 0.0, time.time()
    model.train()
    end = min(args.steps, args.stop_at or args.steps)
    while step < end:
        x, y = queue.get()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        opt.step()
        sched.step()
        running += float(loss.detach())
        step += 1
        if step % 50 == 0:
            print(
                f"step {step} loss {running / 50:.4f} {(time.time() - t_last) / 50:.2f}s/step",
                flush=True,
            )
            running, t_last = 0.0, time.time()
        if step % args.eval_every == 0 or step == end:
            metrics = evaluate(model, dev)
            record = {
                "step": step,
                "time_s": round(time.time() - t0),
                **metrics,
                "gabor_moved": gabor_movement(model, init),
            }
            with open(args.out / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)
            state = {"model": model.state_dict(), "config": model.config.to_dict(), "step": step}
            if metrics["auc"] > best:
                best = metrics["auc"]
                torch.save({**state, "dev": metrics}, args.out / "best.pt")
            torch.save(
                {**state, "opt": opt.state_dict(), "sched": sched.state_dict(), "best": best},
                args.out / "last.pt.tmp",
            )
            (args.out / "last.pt.tmp").replace(last)
    worker.terminate()


if __name__ == "__main__":
    main()
