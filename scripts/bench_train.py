"""Fine-tuning throughput: all-MiniLM-L6-v2 + a classification head, tfhf against PyTorch.

Trains a sequence classifier on the shipped movie-review sentences, batch 32 x 128 tokens
(padded to 128, so every step has the same shape), and reports training samples/s:

  * tfhf ``model.fit`` (the transformers 4.x TF recipe: ``prepare_tf_dataset``,
    ``create_optimizer`` AdamW, ``compile`` without a loss): ``jit_compile=False`` (graph)
    and ``jit_compile=True`` (XLA), in float32 and under the ``mixed_bfloat16`` policy;
  * a PyTorch transformers training loop on the same checkpoint (``torch.optim.AdamW``,
    same learning rate and weight decay; forward with labels, backward, step), eager and
    ``torch.compile`` (when it works here), in float32 and under
    ``torch.autocast("cpu", dtype=torch.bfloat16)``.

Warm-up steps (which include tracing / XLA / torch.compile compilation) are excluded from
the throughput; the first step's time is reported apart ("first step", compile included).
Configurations run round-robin, a few steps each per round, so that load from other
processes on a shared machine falls on all of them alike. Dropout is on (training mode) in
both frameworks.

    tfhf assets install minilm
    python scripts/bench_train.py --json bench_out/train.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_encoder import machine  # noqa: E402

LR, WEIGHT_DECAY = 5e-5, 0.01


def load_data(tokenizer, n, seq):
    import datasets

    from tfhf.apps.quickstart import DATA

    ds = datasets.load_dataset("csv", data_files=DATA, split="train").select(range(n))
    return ds.map(lambda b: tokenizer(b["text"], padding="max_length", truncation=True,
                                      max_length=seq),
                  batched=True, remove_columns=["text", "rating"])


class TfhfRunner:
    def __init__(self, folder, data, tokenizer, batch, jit, policy, total_steps):
        from tfhf import TFAutoModelForSequenceClassification, create_optimizer
        from tfhf._keras import keras

        self.keras = keras
        self.model = TFAutoModelForSequenceClassification.from_pretrained(
            folder, num_labels=2, dtype=policy)
        # fixed shapes: every row is padded to --seq; full batches only
        self.ds = self.model.prepare_tf_dataset(data, batch_size=batch, shuffle=True, seed=0,
                                                tokenizer=tokenizer, drop_remainder=True)
        opt, _ = create_optimizer(LR, total_steps, 0, weight_decay_rate=WEIGHT_DECAY)
        self.model.compile(optimizer=opt, jit_compile=jit)
        self.losses = []

    def run(self, steps):
        times, losses = [], self.losses
        keras = self.keras

        class Timer(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                self.t = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                losses.append(float(logs["loss"]))  # also waits for the step to finish
                times.append(time.perf_counter() - self.t)

        self.model.fit(self.ds, epochs=1, steps_per_epoch=steps, verbose=0,
                       callbacks=[Timer()])
        return times


class TorchRunner:
    def __init__(self, folder, data, batch, compiled, bf16):
        import torch
        import transformers

        self.torch = torch
        torch.manual_seed(0)
        model = transformers.AutoModelForSequenceClassification.from_pretrained(
            folder, num_labels=2)
        model.train()
        self.opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
        self.model = torch.compile(model) if compiled else model
        self.bf16 = bf16
        cols = ["input_ids", "attention_mask", "token_type_ids", "label"]
        arrays = {c: torch.tensor(data[c]) for c in cols if c in data.column_names}
        n = len(data) // batch * batch
        self.batches = [{("labels" if k == "label" else k): v[i:i + batch] for k, v in
                         arrays.items()} for i in range(0, n, batch)]
        self.i = 0
        self.losses = []

    def step(self):
        torch = self.torch
        batch = self.batches[self.i % len(self.batches)]
        self.i += 1
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            loss = self.model(**batch).loss
        loss.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.losses.append(float(loss))

    def run(self, steps):
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            self.step()
            times.append(time.perf_counter() - t)
        return times


def speed_ratios(results):
    """tfhf / PyTorch per precision: the fastest tfhf configuration's samples/s (median
    step) over the fastest PyTorch configuration's (> 1: tfhf trains faster)."""
    out = {}
    for label, tf_key, pt_key in (("float32", "float32", "float32"),
                                  ("bf16", "mixed_bfloat16", "bf16")):
        def best(prefix, key):
            rows = [(r["samples_per_s"], n) for n, r in results.items()
                    if n.startswith(prefix) and key in n and r.get("samples_per_s")]
            return max(rows) if rows else None
        t, p = best("tfhf", tf_key), best("PyTorch", pt_key)
        if t and p:
            out[label] = {"ratio": t[0] / p[0], "tfhf": t[1], "pytorch": p[1]}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps (compile included)")
    p.add_argument("--steps", type=int, default=12, help="timed steps per configuration")
    p.add_argument("--round-steps", type=int, default=3, help="steps per config per round")
    p.add_argument("--only", default=None, help="comma-separated config names to run")
    p.add_argument("--no-torch-compile", action="store_true")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both frameworks (TF intra/inter-op, torch); default: "
                        "each framework's own (all cores). On a machine shared with other "
                        "jobs, 1 avoids OpenMP spin-waiting that slows PyTorch several-fold")
    p.add_argument("--note", default="", help="free text stored in the JSON (e.g. load)")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--plot", metavar="PATH", help="write a PNG chart of the results here "
                   "(needs matplotlib; see scripts/plot_benchmarks.py)")
    args = p.parse_args(argv)
    if args.plot:  # fails now, not after the run, when matplotlib is missing
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _plots

        _plots.require_matplotlib()

    from tfhf import AutoTokenizer, assets

    folder = assets.path("minilm")
    import tensorflow as tf
    import torch
    import transformers

    if args.threads:  # before TensorFlow creates its thread pools
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        torch.set_num_threads(args.threads)

    tokenizer = AutoTokenizer.from_pretrained(folder)
    n_rows = args.batch * max(8, (args.warmup + args.steps + args.round_steps) // 2)
    data = load_data(tokenizer, n_rows, args.seq)
    total = args.warmup + args.steps + args.round_steps

    makers = {
        "tfhf fit float32, graph": lambda: TfhfRunner(folder, data, tokenizer, args.batch,
                                                      False, None, total),
        "tfhf fit float32, XLA": lambda: TfhfRunner(folder, data, tokenizer, args.batch, True,
                                                    None, total),
        "tfhf fit mixed_bfloat16, graph": lambda: TfhfRunner(folder, data, tokenizer,
                                                             args.batch, False,
                                                             "mixed_bfloat16", total),
        "tfhf fit mixed_bfloat16, XLA": lambda: TfhfRunner(folder, data, tokenizer,
                                                           args.batch, True,
                                                           "mixed_bfloat16", total),
        "PyTorch eager float32": lambda: TorchRunner(folder, data, args.batch, False, False),
        "PyTorch torch.compile float32": lambda: TorchRunner(folder, data, args.batch, True,
                                                             False),
        "PyTorch eager bf16 autocast": lambda: TorchRunner(folder, data, args.batch, False,
                                                           True),
        "PyTorch torch.compile bf16 autocast": lambda: TorchRunner(folder, data, args.batch,
                                                                   True, True),
    }
    if args.no_torch_compile:
        makers = {k: v for k, v in makers.items() if "torch.compile" not in k}
    if args.only:
        wanted, part = [], ""  # names hold commas ("tfhf fit float32, graph"): rejoin
        for piece in args.only.split(","):
            part = f"{part},{piece}" if part else piece
            if part.strip() in makers:
                wanted.append(part.strip())
                part = ""
        makers = {k: v for k, v in makers.items() if k in wanted}

    load_before = os.getloadavg()
    results, runners = {}, {}
    for name, make in makers.items():  # build and warm up (compile) each configuration
        r = results[name] = {"error": None}
        try:
            t = time.perf_counter()
            runners[name] = runner = make()
            r["setup_s"] = time.perf_counter() - t
            warm = runner.run(args.warmup)
            r["first_step_s"], r["warmup_step_s"] = warm[0], warm[1:]
        except Exception as e:  # e.g. torch.compile without a working toolchain
            r["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            traceback.print_exc()
            runners.pop(name, None)
        print(f"warmed up {name}: {r.get('first_step_s', float('nan')):.1f}s first step"
              + (f"  ERROR {r['error']}" if r["error"] else ""), flush=True)

    timed = {name: [] for name in runners}
    while any(len(v) < args.steps for v in timed.values()):
        for name, runner in list(runners.items()):
            k = min(args.round_steps, args.steps - len(timed[name]))
            if k <= 0:
                continue
            try:
                timed[name] += runner.run(k)
            except Exception as e:
                results[name]["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                runners.pop(name)
    load_after = os.getloadavg()

    for name, times in timed.items():
        if not times:
            continue
        r = results[name]
        med = statistics.median(times)
        r.update(step_s_all=times, step_s_median=med, step_s_min=min(times),
                 samples_per_s=args.batch / med, samples_per_s_best=args.batch / min(times),
                 compile_s=max(r["first_step_s"] - med, 0.0),
                 loss_first=runners[name].losses[0], loss_last=runners[name].losses[-1])

    info = {"machine": machine(), "tensorflow": tf.__version__,
            "keras": __import__("tfhf._keras", fromlist=["keras"]).keras.__version__,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "transformers": transformers.__version__, "batch": args.batch, "seq": args.seq,
            "warmup_steps": args.warmup, "timed_steps": args.steps,
            "loadavg_before": load_before, "loadavg_after": load_after, "note": args.note,
            "platform": platform.platform()}

    print(f"\nMiniLM-L6 fine-tuning, batch {args.batch} x {args.seq} tokens, "
          f"{args.steps} timed steps after {args.warmup} warm-up steps; load average "
          f"{load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} cores, "
          f"threads per framework: {args.threads or 'default'}")
    print("| configuration | samples/s (median step) | samples/s (best step) | "
          "median step (s) | first step, compile included (s) |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        if r.get("samples_per_s"):
            print(f"| {name} | {r['samples_per_s']:.1f} | {r['samples_per_s_best']:.1f} | "
                  f"{r['step_s_median']:.2f} | {r['first_step_s']:.1f} |")
        else:
            print(f"| {name} | failed: {r['error']} | | | |")
    ratios = speed_ratios(results)
    for label, r in ratios.items():
        print(f"tfhf / PyTorch {label}: {r['ratio']:.2f}x ({r['tfhf']} vs {r['pytorch']}, "
              "samples/s of the median step)")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump({"info": info, "results": results, "ratios": ratios}, fh, indent=1)
        print(f"\nwrote {args.json}")
    if args.plot:
        chart = _plots.save_chart({"info": info, "results": results}, args.plot)
        print(f"wrote {chart}")


if __name__ == "__main__":
    main()
