"""Equal-budget first-layer ablation of the VAD recipe, from the training runs' own logs.

Each run is ``python -m gabortag.training.recipes.train_vad ... --steps 3000 --stop-at 500
--first-layer {gabor,conv,none}`` (the shipped run went on to 3,000): same data, seed,
schedule and back end; only the first layer differs. Its log holds the pooled and per-group
ROC-AUC on the development suite at each evaluation (the code that selects checkpoints).

    python benchmarks/vad_ablations.py gabor=runs/vad conv=runs/vad-conv none=runs/vad-none \
        --step 500 --json benchmarks/results/vad-ablations.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def record_at(run: Path, step: int) -> dict[str, object]:
    """The log record of ``run`` at ``step``, and the network's parameter count."""
    for line in (run / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["step"] == step:
            groups = rec.get("groups") or {
                k.split("/", 1)[1]: v for k, v in rec.items() if k.startswith("auc/")
            }
            params = None
            for text in (run / "train.log").read_text().splitlines():
                if text.startswith("parameters "):
                    params = int(text.split()[1].rstrip(","))
            return {
                "pooled_auc": round(rec["auc"], 4),
                "f1@0.5": round(rec["f1@0.5"], 4),
                "groups": {k: round(v, 4) for k, v in groups.items()},
                "parameters": params,
            }
    raise SystemExit(f"{run}: no evaluation at step {step}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", metavar="LAYER=RUN_DIR")
    p.add_argument("--step", type=int, default=500)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    table = {}
    for item in args.runs:
        layer, _, run = item.partition("=")
        table[layer] = record_at(Path(run), args.step)
    print(f"development suite at step {args.step} of 3000 (same schedule, data, seed)")
    print(f"{'first layer':12s} {'params':>8s} {'pooled AUC':>11s} {'F1@0.5':>7s}  per group")
    for layer, r in table.items():
        head = f"{layer:12s} {r['parameters']!s:>8s} {r['pooled_auc']:11.4f}"
        print(f"{head} {r['f1@0.5']:7.4f}  {r['groups']}")
    if args.json:
        args.json.write_text(json.dumps({"step": args.step, "runs": table}, indent=1) + "\n")


if __name__ == "__main__":
    main()
