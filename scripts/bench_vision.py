"""Vision-language speed: BLIP-base-shaped captioning (forward and greedy ``generate``) and
ViLT-base-shaped VQA (forward), tfhf under XLA vs PyTorch transformers eager, on the same
CPU in one run.

    python scripts/bench_vision.py --json bench_out/vision.json
    python scripts/bench_vision.py --batches 1 --repeats 1 --tiny     # a smoke run

Models (random weights from a fixed seed, the real shapes; no weights of these families are in
the offline assets), built with PyTorch transformers, saved, and loaded by tfhf:

* BLIP (Salesforce/blip-image-captioning-base's shapes): ViT-B/16 at 384 x 384 (12 layers,
  768 wide, 577 tokens), a BERT-base decoder with cross-attention (12 layers, vocab 30524).
  ``forward``: image + a 16-token caption -> logits. ``generate``: greedy decoding of exactly
  ``--new-tokens`` tokens (``min_new_tokens`` == ``max_new_tokens``), image encoder included;
  tokens/s = batch x new tokens / wall time of the call.
* ViLT (dandelin/vilt-b32-finetuned-vqa's shapes): 12 layers, 768 wide, 32 x 32 patches of a
  384 x 384 image (144 patches) + a 12-token question, 3129 answers. ``forward``: VQA logits.

tfhf's forward runs as one ``tf.function(jit_compile=True)``; its ``generate`` is the compiled
decode loop. PyTorch runs eagerly under ``torch.no_grad()``. The first call of each backend
(tracing, compilation) is reported apart; then ``--repeats`` calls per backend round-robin (so
load from other processes falls on both alike); the table gives the median and the best, and
the speed-up of tfhf over PyTorch on the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_encoder import machine  # noqa: E402


def blip_config(tiny):
    import transformers

    if tiny:
        vision = dict(hidden_size=24, intermediate_size=37, num_hidden_layers=2,
                      num_attention_heads=4, image_size=32, patch_size=8)
        text = dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                    num_attention_heads=4, encoder_hidden_size=24, bos_token_id=97,
                    sep_token_id=98, pad_token_id=0)
    else:
        vision = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                      num_attention_heads=12, image_size=384, patch_size=16)
        text = dict(vocab_size=30524, hidden_size=768, intermediate_size=3072,
                    num_hidden_layers=12, num_attention_heads=12, encoder_hidden_size=768,
                    bos_token_id=30522, sep_token_id=102, pad_token_id=0)
    return transformers.BlipConfig(text_config=text, vision_config=vision,
                                   attn_implementation="eager")


def vilt_config(tiny):
    import transformers

    if tiny:
        return transformers.ViltConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=4, intermediate_size=37,
                                       image_size=32, patch_size=8, num_labels=5)
    return transformers.ViltConfig(num_labels=3129)  # the defaults are ViLT-B/32's shapes


def _round_robin(fns, repeats):
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return times


def _measure(fns, repeats, row, work=None):
    """First call and round-robin timings of ``fns`` (tfhf first); rows for the table."""
    first, outs = {}, {}
    for k, fn in fns.items():
        t = time.perf_counter()
        outs[k] = fn()
        first[k] = time.perf_counter() - t
    times = _round_robin(fns, repeats)
    rows = []
    for k in fns:
        med, best = statistics.median(times[k]), min(times[k])
        r = dict(row, backend=k, median_s=med, best_s=best, first_call_s=first[k],
                 all_s=times[k])
        if work:
            r["per_s_median"], r["per_s_best"] = work / med, work / best
        rows.append(r)
    rows[0]["speedup_vs_torch"] = rows[1]["median_s"] / rows[0]["median_s"]
    return rows, list(outs.values())


def bench_blip(args, tmp):
    import numpy as np
    import tensorflow as tf
    import torch
    import transformers

    from tfhf import TFAutoModelForVision2Seq

    cfg = blip_config(args.tiny)
    torch.manual_seed(0)
    folder = os.path.join(tmp, "blip")
    pt = transformers.BlipForConditionalGeneration(cfg).eval()
    pt.save_pretrained(folder)
    tfm = TFAutoModelForVision2Seq.from_pretrained(folder)
    size, tc = cfg.vision_config.image_size, cfg.text_config
    fwd = tf.function(lambda px, ids: tfm(pixel_values=px, input_ids=ids).logits,
                      jit_compile=True)
    results = []
    for batch in args.batches:
        rs = np.random.RandomState(batch)
        px = rs.randn(batch, 3, size, size).astype("float32")
        ids = rs.randint(3, min(tc.vocab_size, 30000), (batch, 16)).astype("int32")
        ids[:, 0] = tc.bos_token_id
        n = args.new_tokens
        gen = dict(max_new_tokens=n, min_new_tokens=n, num_beams=1, do_sample=False)

        def pt_forward():
            with torch.no_grad():
                return pt(pixel_values=torch.tensor(px),
                          input_ids=torch.tensor(ids, dtype=torch.long)).logits.numpy()

        def pt_generate():
            with torch.no_grad():
                return pt.generate(torch.tensor(px), **gen).numpy()

        rows, outs = _measure({"tfhf XLA": lambda: fwd(px, ids).numpy(),
                               "PyTorch eager": pt_forward}, args.repeats,
                              {"model": "BLIP", "what": "forward", "batch": batch},
                              work=batch)
        rows[0]["max_abs_diff"] = float(np.abs(outs[0] - outs[1]).max())
        results += rows
        rows, outs = _measure({"tfhf XLA": lambda: np.asarray(tfm.generate(px, **gen)),
                               "PyTorch eager": pt_generate}, args.repeats,
                              {"model": "BLIP", "what": f"generate {n} tokens",
                               "batch": batch}, work=batch * n)
        rows[0]["same_tokens"] = outs[0].shape == outs[1].shape and bool(
            (outs[0] == outs[1]).all())
        results += rows
    return results


def bench_vilt(args, tmp):
    import numpy as np
    import tensorflow as tf
    import torch
    import transformers

    from tfhf import TFAutoModelForVisualQuestionAnswering

    cfg = vilt_config(args.tiny)
    torch.manual_seed(0)
    folder = os.path.join(tmp, "vilt")
    pt = transformers.ViltForQuestionAnswering(cfg).eval()
    pt.save_pretrained(folder)
    tfm = TFAutoModelForVisualQuestionAnswering.from_pretrained(folder)
    fwd = tf.function(lambda feed: tfm(feed).logits, jit_compile=True)
    results = []
    for batch in args.batches:
        rs = np.random.RandomState(batch)
        ids = rs.randint(1000 if not args.tiny else 3, cfg.vocab_size - 1,
                         (batch, 12)).astype("int32")
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids),
                "pixel_values": rs.randn(batch, 3, cfg.image_size,
                                         cfg.image_size).astype("float32"),
                "pixel_mask": np.ones((batch, cfg.image_size, cfg.image_size), "int32")}

        def pt_forward():
            with torch.no_grad():
                return pt(**{k: torch.tensor(v).long() if v.dtype.kind == "i" else
                             torch.tensor(v) for k, v in feed.items()}).logits.numpy()

        rows, outs = _measure({"tfhf XLA": lambda: fwd(feed).numpy(),
                               "PyTorch eager": pt_forward}, args.repeats,
                              {"model": "ViLT", "what": "forward", "batch": batch},
                              work=batch)
        rows[0]["max_abs_diff"] = float(np.abs(outs[0] - outs[1]).max())
        results += rows
    return results


def print_table(rows):
    print("| model | what | batch | backend | median s | best s | items/s (median) | "
          "first call s | tfhf speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        speed = f"{r['speedup_vs_torch']:.2f}x" if "speedup_vs_torch" in r else ""
        print(f"| {r['model']} | {r['what']} | {r['batch']} | {r['backend']} | "
              f"{r['median_s']:.3f} | {r['best_s']:.3f} | {r.get('per_s_median', 0):.1f} | "
              f"{r['first_call_s']:.1f} | {speed} |")
    for r in rows:
        checks = {k: r[k] for k in ("max_abs_diff", "same_tokens") if k in r}
        if checks:
            print(f"{r['model']} {r['what']} batch {r['batch']}: {checks}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads for both frameworks (default: their defaults)")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--new-tokens", type=int, default=20)
    p.add_argument("--skip-blip", action="store_true")
    p.add_argument("--skip-vilt", action="store_true")
    p.add_argument("--tiny", action="store_true", help="tiny configs: check the script runs")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import torch
    import transformers

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    info = {"machine": machine(), "load_average_start": os.getloadavg(),
            "versions": {"tensorflow": tf.__version__, "torch": torch.__version__,
                         "transformers": transformers.__version__},
            "threads": args.threads or "default", "repeats": args.repeats, "tiny": args.tiny,
            # PyTorch's OpenMP threads spin between ops unless told otherwise: fast on a quiet
            # machine, up to ~10x slower when other jobs share the cores (see bench_tts.py).
            # Figures are only comparable when this and the load averages are recorded.
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default (active)"),
            "rows": []}
    tmp = tempfile.mkdtemp(prefix="tfhf-bench-vision-")
    try:
        if not args.skip_blip:
            info["rows"] += bench_blip(args, tmp)
        if not args.skip_vilt:
            info["rows"] += bench_vilt(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["load_average_end"] = os.getloadavg()
    print_table(info["rows"])
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(info, f, indent=1)
    print(f"\nload average start {info['load_average_start']}, end {info['load_average_end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
