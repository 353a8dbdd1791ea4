"""Serving benchmark: the exported classifier SavedModel against the PyTorch pipeline.

Builds a MiniLM-L6 text classifier (the all-MiniLM-L6-v2 asset's weights plus a seeded
2-label head, saved with PyTorch transformers), exports it with ``tfhf export`` (strings in,
in-graph WordPiece), then starts two fresh worker processes:

* ``tf``: ``tf.saved_model.load`` + ``signatures["serving_default"](text=...)``; the process
  imports TensorFlow and tensorflow_text only (never tfhf), as a serving client would;
* ``torch``: ``transformers.pipeline("text-classification")`` on the same checkpoint.

Each backend runs twice, with its library's default threads (all cores) and with one thread
(``--threads``): on a CPU shared with other jobs, PyTorch's OpenMP threads lose much more to
contention than TensorFlow's thread pool, and one thread shows what each does without it.
All workers see the same movie-review sentences. The parent sends them work round-robin (a
slice of batch-1 requests to each in turn, then batch-32 requests), so load from other
processes on a shared machine falls on all of them alike. Reported: p50/p99 latency of single-text
requests, throughput at batch 32 (texts/s, median over batches), time to load, and whether
both give the same labels.

    tfhf assets install minilm
    python scripts/bench_serving.py --rounds 10 --json bench_out/serving.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
REVIEWS = os.path.join(HERE, "..", "tfhf", "data", "files", "movie_reviews.csv")


# ---------------------------------------------------------------- workers
def _worker(kind, path, threads):
    t0 = time.perf_counter()
    if kind == "tf":
        import tensorflow as tf
        import tensorflow_text  # noqa: F401

        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        fn = tf.saved_model.load(path).signatures["serving_default"]

        def predict(texts):
            out = fn(text=tf.constant(texts))
            return [b.decode() for b in out["label"].numpy()], out["score"].numpy().tolist()
    else:
        import torch
        import transformers

        if threads:
            torch.set_num_threads(threads)
        pipe = transformers.pipeline("text-classification", model=path, device=-1)

        def predict(texts):
            with torch.inference_mode():
                res = pipe(list(texts), batch_size=len(texts), truncation=True)
            return [r["label"] for r in res], [r["score"] for r in res]
    predict(["warm up"])
    predict(["warm up"] * 32)
    info = {"load_s": time.perf_counter() - t0}
    if kind == "tf":
        import tensorflow as tf

        info["threads"] = threads or f"default ({os.cpu_count()})"
        info["tfhf_imported"] = any(m.startswith("tfhf") for m in sys.modules)
    else:
        import torch

        info["threads"] = threads or f"default ({torch.get_num_threads()})"
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        texts = cmd["texts"]
        if cmd["op"] == "latency":
            times = []
            for t in texts:
                s = time.perf_counter()
                predict([t])
                times.append(time.perf_counter() - s)
            print(json.dumps({"times": times}), flush=True)
        elif cmd["op"] == "batch":
            s = time.perf_counter()
            predict(texts)
            print(json.dumps({"time": time.perf_counter() - s}), flush=True)
        elif cmd["op"] == "predict":
            labels, scores = predict(texts)
            print(json.dumps({"labels": labels, "scores": scores}), flush=True)


class Worker:
    def __init__(self, kind, path, threads):
        env = dict(os.environ)
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", kind, "--path", path,
             "--worker-threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            cwd=tempfile.gettempdir())
        self.info = json.loads(self._read())

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.kind} worker died (exit {self.proc.wait()})")
        return line

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._read())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# ---------------------------------------------------------------- parent
def machine():
    info = {"python": platform.python_version(), "cores": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                info["cpu"] = value.strip()
        info["loadavg_start"] = os.getloadavg()[0]
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def versions():
    from importlib import metadata

    out = {}
    for dist in ("tensorflow", "tensorflow-text", "keras", "torch", "transformers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def build_classifier(folder, minilm):
    """MiniLM weights + a seeded 2-label head, saved by PyTorch transformers."""
    import torch
    import transformers

    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification.from_pretrained(
        minilm, num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1})
    model.save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(minilm).save_pretrained(folder)


def reviews(n):
    with open(REVIEWS, newline="", encoding="utf-8") as fh:
        rows = [r["text"] for r in csv.DictReader(fh)]
    return rows[:n]


def pct(values, q):
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", choices=["tf", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--worker-threads", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--threads", default="0,1",
                   help="comma-separated thread settings to run each backend with "
                        "(0 = the library default, all cores); default 0,1")
    p.add_argument("--rounds", type=int, default=10, help="round-robin rounds")
    p.add_argument("--latency-per-round", type=int, default=20,
                   help="single-text requests per backend per round")
    p.add_argument("--batches-per-round", type=int, default=2,
                   help="batch-32 requests per backend per round")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--plot", metavar="PATH", help="write a PNG chart of the results here "
                   "(needs matplotlib; see scripts/plot_benchmarks.py)")
    p.add_argument("--keep", help="keep the checkpoint and SavedModel in this folder")
    args = p.parse_args(argv)
    if args.worker:
        return _worker(args.worker, args.path, args.worker_threads)
    if args.plot:  # fails now, not after the run, when matplotlib is missing
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _plots

        _plots.require_matplotlib()

    import tfhf
    from tfhf import assets
    from tfhf.export import export_saved_model

    if not assets.is_installed("minilm"):
        sys.exit("needs the MiniLM asset: tfhf assets install minilm")
    work = args.keep or tempfile.mkdtemp(prefix="tfhf-bench-serving-")
    ckpt, base = os.path.join(work, "checkpoint"), os.path.join(work, "serving")
    t = time.perf_counter()
    build_classifier(ckpt, assets.path("minilm"))
    model = tfhf.TFAutoModelForSequenceClassification.from_pretrained(ckpt)
    tok = tfhf.AutoTokenizer.from_pretrained(ckpt)
    saved = export_saved_model(model, base, tokenizer=tok, overwrite=True, version=1)
    export_s = time.perf_counter() - t
    del model
    texts = reviews(args.rounds * max(args.latency_per_round, args.batch * args.batches_per_round)
                    + 64)
    mach = machine()

    settings = [int(x) for x in args.threads.split(",")]
    workers, names = {}, {}
    for n in settings:
        label = "default threads" if n == 0 else f"{n} thread{'s' if n > 1 else ''}"
        workers[f"tf{n}"] = Worker("tf", saved, n)
        names[f"tf{n}"] = f"tfhf SavedModel serving_default, strings in ({label})"
        workers[f"torch{n}"] = Worker("torch", ckpt, n)
        names[f"torch{n}"] = f"PyTorch transformers pipeline ({label})"
    check = texts[:64]
    preds = {k: w.ask(op="predict", texts=check) for k, w in workers.items()}
    tf0, torch0 = f"tf{settings[0]}", f"torch{settings[0]}"
    same = sum(a == b for a, b in zip(preds[tf0]["labels"], preds[torch0]["labels"]))
    score_diff = max(abs(a - b) for a, b in zip(preds[tf0]["scores"],
                                                preds[torch0]["scores"]))
    lat = {k: [] for k in workers}
    thr = {k: [] for k in workers}
    pos = 64
    for _ in range(args.rounds):
        chunk = texts[pos:pos + args.latency_per_round]
        for k, w in workers.items():
            lat[k] += w.ask(op="latency", texts=chunk)["times"]
        for _ in range(args.batches_per_round):
            batch = texts[pos:pos + args.batch]
            pos += args.batch
            for k, w in workers.items():
                thr[k].append(args.batch / w.ask(op="batch", texts=batch)["time"])
    for w in workers.values():
        w.close()
    mach["loadavg_end"] = os.getloadavg()[0]
    rows = []
    for k in workers:
        rows.append({"backend": names[k], "p50_ms": 1000 * statistics.median(lat[k]),
                     "p99_ms": 1000 * pct(lat[k], 0.99),
                     "throughput_texts_per_s": statistics.median(thr[k]),
                     "load_s": workers[k].info["load_s"], "threads": workers[k].info["threads"],
                     "requests_batch1": len(lat[k]), "requests_batch32": len(thr[k])})
    result = {"machine": mach, "versions": versions(), "export_s": export_s,
              "labels_equal": f"{same}/{len(check)}", "max_score_diff": score_diff,
              "tf_worker_imported_tfhf": workers[tf0].info.get("tfhf_imported"),
              "rows": rows}
    print(f"\nMiniLM-L6 classifier, {len(check)} check sentences: labels equal {same}/"
          f"{len(check)}, max |score diff| {score_diff:.1e}; export took {export_s:.1f} s")
    print(f"machine: {mach.get('cpu', '?')}, {mach['cores']} cores, load average "
          f"{mach.get('loadavg_start', 0):.1f} -> {mach['loadavg_end']:.1f}\n")
    print(f"| backend | p50 latency, batch 1 (ms) | p99 latency, batch 1 (ms) | "
          f"throughput, batch {args.batch} (texts/s) | load + warm-up (s) |")
    print("|---|---|---|---|---|")
    rows.sort(key=lambda r: r["backend"])
    for r in rows:
        print(f"| {r['backend']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['throughput_texts_per_s']:.0f} | {r['load_s']:.1f} |")
    print("\n" + json.dumps(result, indent=2))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    if args.plot:
        print(f"wrote {_plots.save_chart(result, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
