"""Encoder benchmark: all-MiniLM-L6-v2 in tfhf against PyTorch transformers, in one run.

Measures
  * ``from_pretrained`` time (first load in the process, then the median of repeats);
  * forward latency at batch 32 x 128 tokens: tfhf eager, tfhf ``tf.function`` (graph),
    tfhf XLA (``tf.function(jit_compile=True)``, compile time reported apart), PyTorch eager
    under ``torch.no_grad`` and ``torch.compile`` (when it works on this machine).

The forward passes run round-robin (one of each per repeat) so that load from other processes
on a shared machine falls on every backend alike; the table shows medians.

    tfhf assets install minilm
    python scripts/bench_encoder.py --repeats 10 --json bench_out/encoder.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def machine():
    info = {"python": platform.python_version(), "cores": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "Flags"):
                value = value.strip()
                if key.strip() == "Flags":
                    flags = set(value.split())
                    value = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16",
                                                 "amx_tile") if f in flags)
                    key = "SIMD"
                info[key.strip()] = value
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--repeats", type=int, default=10, help="timed forward passes per backend")
    p.add_argument("--load-repeats", type=int, default=3, help="from_pretrained repeats")
    p.add_argument("--no-torch-compile", action="store_true")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--plot", metavar="PATH", help="write a PNG chart of the results here "
                   "(needs matplotlib; see scripts/plot_benchmarks.py)")
    args = p.parse_args(argv)
    if args.plot:  # fails now, not after the run, when matplotlib is missing
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _plots

        _plots.require_matplotlib()

    import numpy as np

    from tfhf import assets

    folder = assets.path("minilm")

    t = time.perf_counter()
    import tensorflow as tf

    import tfhf
    tf_import = time.perf_counter() - t
    t = time.perf_counter()
    import torch
    import transformers
    torch_import = time.perf_counter() - t

    tok = tfhf.AutoTokenizer.from_pretrained(folder)
    words = ("the model reads a sentence of plain english words and numbers like 42 while "
             "the benchmark keeps every row close to the full length").split()
    texts = [" ".join((words[i % len(words):] + words) * 4) for i in range(args.batch)]
    enc = tok(texts, padding="max_length", truncation=True, max_length=args.seq,
              return_tensors="np")
    assert enc["input_ids"].shape == (args.batch, args.seq)

    # ---------------------------------------------------------------- from_pretrained
    load = {"tfhf": [], "torch": []}
    for _ in range(args.load_repeats):
        load["tfhf"].append(timed(lambda: tfhf.TFAutoModel.from_pretrained(folder)))
        load["torch"].append(timed(lambda: transformers.AutoModel.from_pretrained(folder)))
    tf_model = tfhf.TFAutoModel.from_pretrained(folder)
    pt_model = transformers.AutoModel.from_pretrained(folder).eval()

    tf_inputs = {k: tf.constant(v) for k, v in enc.items()}
    pt_inputs = {k: torch.from_numpy(v) for k, v in enc.items()}

    def tf_eager():
        return tf_model(**tf_inputs).last_hidden_state.numpy()

    graph_fn = tf.function(lambda d: tf_model(**d).last_hidden_state)
    xla_fn = tf.function(lambda d: tf_model(**d).last_hidden_state, jit_compile=True)

    def tf_graph():
        return graph_fn(tf_inputs).numpy()

    def tf_xla():
        return xla_fn(tf_inputs).numpy()

    def pt_eager():
        with torch.no_grad():
            return pt_model(**pt_inputs).last_hidden_state.numpy()

    backends = {"tfhf eager": tf_eager, "tfhf tf.function": tf_graph,
                "tfhf XLA (jit_compile)": tf_xla, "torch eager (no_grad)": pt_eager}
    first_call = {}
    errors = {}
    first_call["tfhf tf.function"] = timed(tf_graph)
    first_call["tfhf XLA (jit_compile)"] = timed(tf_xla)
    if not args.no_torch_compile:
        try:
            compiled = torch.compile(pt_model)

            def pt_compiled():
                with torch.no_grad():
                    return compiled(**pt_inputs).last_hidden_state.numpy()

            first_call["torch.compile"] = timed(pt_compiled)
            backends["torch.compile"] = pt_compiled
        except Exception as e:  # inductor needs a working C++ toolchain
            errors["torch.compile"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"

    # every backend computes the same thing
    ref = pt_eager()
    max_diff = {}
    for name, fn in backends.items():
        fn()  # warm-up
        max_diff[name] = float(np.abs(fn() - ref).max())

    times = {name: [] for name in backends}
    for _ in range(args.repeats):
        for name, fn in backends.items():
            times[name].append(timed(fn))

    tokens = args.batch * args.seq
    results = {
        "machine": machine(),
        "versions": {"tensorflow": tf.__version__, "transformers": transformers.__version__,
                     "torch": torch.__version__, "tfhf": tfhf.__version__,
                     "keras": tfhf._keras.KERAS_NAME + " " + tfhf._keras.keras.__version__,
                     "torch_threads": torch.get_num_threads()},
        "shape": {"batch": args.batch, "seq": args.seq, "repeats": args.repeats},
        "import_s": {"tensorflow+tfhf": tf_import, "torch+transformers": torch_import},
        "from_pretrained_s": {k: {"first": v[0], "all": v,
                                  "median_after_first": statistics.median(v[1:] or v)}
                              for k, v in load.items()},
        "forward_ms": {k: {"median": 1e3 * statistics.median(v), "min": 1e3 * min(v),
                           "all": [1e3 * x for x in v]} for k, v in times.items()},
        "first_call_s": first_call,
        "max_abs_diff_vs_torch": max_diff,
        "errors": errors,
    }

    m = results["machine"]
    print(f"\nMiniLM-L6 (BERT, 22.7M params) | {m.get('Model name', '?')}, {m['cores']} cores "
          f"({m.get('SIMD', '')}) | TF {tf.__version__}, torch {torch.__version__}, "
          f"transformers {transformers.__version__}, {results['versions']['keras']}\n")
    print("| from_pretrained | first load (s) | median of next (s) |")
    print("|---|---|---|")
    for k, v in results["from_pretrained_s"].items():
        label = "tfhf TFAutoModel" if k == "tfhf" else "PyTorch transformers AutoModel"
        print(f"| {label} | {v['first']:.2f} | {v['median_after_first']:.2f} |")
    print(f"\n| forward, batch {args.batch} x {args.seq} | median (ms) | min (ms) | tokens/s |"
          " compile / first call (s) | max abs diff vs torch |")
    print("|---|---|---|---|---|---|")
    for k, v in results["forward_ms"].items():
        fc = first_call.get(k)
        print(f"| {k} | {v['median']:.1f} | {v['min']:.1f} | {tokens / v['median'] * 1e3:,.0f} | "
              f"{'' if fc is None else f'{fc:.2f}'} | {max_diff[k]:.1e} |")
    for k, e in errors.items():
        print(f"| {k} | failed: {e} | | | | |")
    print(f"\nimports: tensorflow+tfhf {tf_import:.1f} s, torch+transformers {torch_import:.1f} s")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
        print(f"wrote {args.json}")
    if args.plot:
        print(f"wrote {_plots.save_chart(results, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
