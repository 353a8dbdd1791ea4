"""Decode benchmark: SmolLM2-135M-Instruct greedy generation in tfhf (XLA; float, and with
int8 / int4 / GGUF-native quantized weights) against PyTorch transformers (eager, and static
cache + ``torch.compile``), keras-hub (TensorFlow backend, XLA; float and after
``model.quantize("int8")``) and llama.cpp's ``llama-bench`` on the same GGUF file, in one run.
The float backends get the same dequantized GGUF weights; ``tfhf-int8`` / ``tfhf-int4``
quantize them (int4 in groups of 64), ``tfhf-gguf`` keeps the file's Q4_1 blocks
(``quantization="gguf"``), ``llama.cpp`` reads the file itself (scripts/_llamacpp_peer.py:
where its binary comes from; skipped with the reason when it is missing).

For every (backend, batch, dtype) the script times ``generate`` with 1 new token (prefill:
time to first token), with M = N/2 + 1 and with N new tokens, greedy, no early stop; decode
tokens/s is ``batch * (N - M) / (t_N - t_M)`` (M and N share tfhf's new-token bucket, so
the difference is decode steps only, on one compiled function). Calls run round-robin (one
of each per round, the minimum over rounds is kept) so that load from other processes falls
on every backend alike. The first call of each (compile / warm-up) is reported apart.

The bandwidth bound: a decode step reads every weight once (embedding gather aside) and the
KV cache of every row; ``bound = bandwidth / bytes_per_step`` steps/s (a quantized model's
weight bytes are those of its variables; llama.cpp's the file's tensors, f16 KV cache), with
the bandwidth measured here (a large numpy copy on one thread and an XLA reduction on all
threads; the larger is used). The table gives the share of that bound each backend reaches.

    tfhf assets install smollm2
    python scripts/bench_generate.py --json bench_out/generate.json   # all but torch-compile
    LLAMA_BENCH=/path/to/llama-bench python scripts/bench_generate.py --dtype float32
    python scripts/bench_generate.py --backends tfhf-int8,llama.cpp --batch 1 --new-tokens 4
    python scripts/bench_generate.py --backends tfhf,torch,torch-compile,keras-hub
    python scripts/bench_generate.py --backends tfhf,torch --batch 1 --dtype float32
    python scripts/bench_generate.py --agreement          # bf16 vs float32 greedy tokens
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# tfhf-<q>: tfhf with quantized weights (QUANTIZED); llama.cpp: scripts/_llamacpp_peer.py
QUANTIZED = {"tfhf-int8": "int8", "tfhf-int4": "int4", "tfhf-gguf": "gguf"}
BACKENDS = ("tfhf", *QUANTIZED, "torch", "torch-compile", "keras-hub", "keras-hub-int8",
            "llama.cpp")
# torch.compile takes minutes per (batch, dtype) on a 2-core CPU: opt-in
DEFAULT_BACKENDS = tuple(b for b in BACKENDS if b != "torch-compile")
DTYPES = ("float32", "bfloat16")
TEXT = ("The history of the printing press begins in the fifteenth century, when Johannes "
        "Gutenberg combined movable metal type, oil-based ink and a wooden press adapted from "
        "those used for wine. Within fifty years presses were at work in more than two hundred "
        "European cities, and the price of books fell so far that reading spread from monks "
        "and scholars to merchants and craftsmen. Pamphlets, newspapers and scientific "
        "journals followed; historians still argue about how much of the Reformation, the "
        "scientific revolution and the rise of national languages the press made possible. ")
AGREEMENT_PROMPTS = [
    "What is the capital of France?",
    "Write a Python function that reverses a string.",
    "Give me three tips for learning a new language.",
    "Explain photosynthesis to a ten-year-old.",
    "What are the benefits of regular exercise?",
    "Summarize the plot of Romeo and Juliet.",
    "How does a bicycle stay upright?",
    "Write a haiku about the ocean.",
    "What is the difference between a list and a tuple in Python?",
    "Suggest a name for a coffee shop.",
    "Why is the sky blue?",
    "How do I make a cup of tea?",
    "What causes earthquakes?",
    "Translate 'good morning' into Spanish and French.",
    "Give an example of a prime number greater than 100.",
    "What is machine learning?",
    "Write a short thank-you note to a teacher.",
    "How many planets are in the solar system?",
    "What should I pack for a weekend hiking trip?",
    "Explain what a binary search does.",
]


# ---------------------------------------------------------------------------- machine
def machine():
    info = {"python": platform.python_version(), "cores": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                info["cpu"] = value.strip()
            elif key.strip() == "Flags":
                flags = set(value.split())
                info["simd"] = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
                                        if f in flags)
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def load_average():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return None


def measure_bandwidth(mib=512, repeats=5):
    """Memory bandwidth in GB/s: numpy copy (one thread, read + write bytes) and an XLA
    reduction over a float32 tensor (all threads, bytes read)."""
    import numpy as np
    import tensorflow as tf

    n = mib * 2 ** 20 // 4
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    copy_gbs = 2 * src.nbytes / best / 1e9
    del dst
    x = tf.constant(src)
    del src
    f = tf.function(lambda a: tf.reduce_sum(a), jit_compile=True)
    f(x).numpy()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        f(x).numpy()
        best = min(best, time.perf_counter() - t)
    read_gbs = n * 4 / best / 1e9
    return {"numpy_copy_gbs": round(copy_gbs, 1), "xla_read_gbs": round(read_gbs, 1),
            "used_gbs": round(max(copy_gbs, read_gbs), 1)}


def bytes_per_step(config, batch, total_len, dtype_bytes, weight_bytes=None):
    """Weights read by one decode step (all but the embedding gather, plus the tied head;
    ``weight_bytes`` when known, e.g. a quantized model's) and the KV cache read for
    ``batch`` rows of ``total_len`` slots."""
    h, v, n_layers = config.hidden_size, config.vocab_size, config.num_hidden_layers
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    d = getattr(config, "head_dim", None) or h // heads
    f = config.intermediate_size
    per_layer = h * heads * d + 2 * h * kv * d + heads * d * h + 3 * h * f + 2 * h
    weights = n_layers * per_layer + h + v * h  # final norm + LM head (tied or not)
    cache = batch * n_layers * 2 * kv * total_len * d * dtype_bytes
    weights = weights * dtype_bytes if weight_bytes is None else weight_bytes
    return weights + cache, weights, cache


# ---------------------------------------------------------------------------- weights
def load_weights(path):
    import numpy as np

    from tfhf.models.gguf import load_gguf

    config, state = load_gguf(path)
    with state:
        sd = {k: np.require(state.get(k), np.float32, requirements=["C", "W"])
              for k in state.keys()}  # noqa: SIM118 (a lazy reader)
    return config, sd


def prompt_batch(tok, batch, prompt_len):
    import numpy as np

    ids = tok(TEXT * 4)["input_ids"]
    if len(ids) < prompt_len + batch:
        raise SystemExit(f"--prompt-len {prompt_len} is too long for the built-in text")
    return np.array([ids[i:i + prompt_len] for i in range(batch)], np.int32)


# ---------------------------------------------------------------------------- backends
class TfhfBackend:
    name = "tfhf"
    weight_bytes = None  # from the config (float weights)

    def __init__(self, folder, gguf, dtype, config, quantization=None):
        import tfhf

        self.model = tfhf.TFAutoModelForCausalLM.from_pretrained(
            folder, gguf_file=gguf, dtype=dtype, quantization=quantization)
        if quantization is not None:
            from tfhf.quantization import quantized_nbytes

            self.name = f"tfhf-{quantization}"
            self.weight_bytes = quantized_nbytes(self.model)
        self.model.generation_config.eos_token_id = None
        self.pad = config.pad_token_id if config.pad_token_id is not None else 0

    def generate(self, ids, new_tokens):
        out = self.model.generate(ids, max_new_tokens=new_tokens, do_sample=False,
                                  pad_token_id=self.pad)
        return out.numpy()[:, ids.shape[1]:]


class TorchBackend:
    name = "torch"

    def __init__(self, config, sd, dtype, compile_=False):
        import torch
        import transformers
        from transformers.initialization import no_init_weights

        config = config.__class__.from_dict(config.to_dict())
        config.dtype = "float32"
        with no_init_weights():
            model = transformers.LlamaForCausalLM(config)
        tsd = {k: torch.from_numpy(a) for k, a in sd.items()}
        model.load_state_dict(tsd, strict=False, assign=True)
        if config.tie_word_embeddings:
            model.tie_weights()
        model = model.eval()
        if dtype == "bfloat16":
            model = model.to(torch.bfloat16)
        model.generation_config.eos_token_id = None
        model.generation_config.pad_token_id = config.pad_token_id or 0
        self.model, self.compile = model, compile_
        if compile_:
            self.name = "torch-compile"
            model.generation_config.cache_implementation = "static"
            model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)

    def generate(self, ids, new_tokens):
        import torch

        with torch.inference_mode():
            out = self.model.generate(torch.from_numpy(ids.astype("int64")),
                                      attention_mask=torch.ones(ids.shape, dtype=torch.long),
                                      max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                      do_sample=False)
        return out.numpy()[:, ids.shape[1]:]


class _PortLoader:
    """keras-hub's converter API (``port_weight``) over an in-memory state dict."""

    def __init__(self, sd):
        self.sd = sd

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        x = self.sd[hf_weight_key]
        if hook_fn:
            x = hook_fn(x, list(keras_variable.shape))
        keras_variable.assign(x)


class KerasHubBackend:
    name = "keras-hub"

    def __init__(self, config, sd, dtype, quantize=None):
        # the converter module only (keras_hub's HF preset loader imports every converter,
        # and the Gemma ones need sentencepiece, which is not installed here)
        from keras_hub.models import Llama3CausalLM
        from keras_hub.src.utils.transformers import convert_llama3

        cfg = config.to_dict()
        kwargs = convert_llama3.convert_backbone_config(cfg)
        backbone = convert_llama3.backbone_cls(**kwargs, dtype=dtype)
        convert_llama3.convert_weights(backbone, _PortLoader(sd), cfg)
        self.model = Llama3CausalLM(backbone=backbone, preprocessor=None)
        if quantize:
            self.model.quantize(quantize)  # Keras 3's weight-only int8
            self.name = f"keras-hub-{quantize}"
        self.model.compile(sampler="greedy", jit_compile=True)

    def generate(self, ids, new_tokens):
        import numpy as np

        b, p = ids.shape
        token_ids = np.concatenate([ids, np.zeros((b, new_tokens), np.int32)], axis=1)
        mask = np.zeros(token_ids.shape, bool)
        mask[:, :p] = True
        out = self.model.generate({"token_ids": token_ids, "padding_mask": mask},
                                  stop_token_ids=None)
        return np.asarray(out["token_ids"])[:, p:]


def make_backend(name, dtype, ctx):
    if name == "tfhf" or name in QUANTIZED:
        return TfhfBackend(ctx["folder"], ctx["gguf"], dtype, ctx["config"],
                           QUANTIZED.get(name))
    if name == "torch":
        return TorchBackend(ctx["config"], ctx["sd"], dtype)
    if name == "torch-compile":
        return TorchBackend(ctx["config"], ctx["sd"], dtype, compile_=True)
    if name in ("keras-hub", "keras-hub-int8"):
        return KerasHubBackend(ctx["config"], ctx["sd"], dtype,
                               "int8" if name == "keras-hub-int8" else None)
    raise SystemExit(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")


# ---------------------------------------------------------------------------- runs
def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def run_speed(args, ctx):
    config = ctx["config"]
    runs = []  # one entry per (backend, batch, dtype)
    for dtype in args.dtype:
        for name in args.backends:
            if name == "llama.cpp":
                continue  # once, after the Python backends (run_llamacpp)
            if dtype not in args.backend_dtypes.get(name, (dtype,)):
                continue  # "NAME:DTYPE" in --backends: this backend in that dtype only
            print(f"[load] {name} {dtype}", flush=True)
            try:
                t, backend = timed(make_backend, name, dtype, ctx)
            except Exception as e:  # noqa: BLE001 - a peer that fails here is reported
                print(f"[skip] {name} {dtype}: {type(e).__name__}: {e}", flush=True)
                runs.append({"backend": name, "dtype": dtype, "error": f"{type(e).__name__}: {e}"})
                continue
            for batch in args.batch:
                runs.append({"backend": name, "dtype": dtype, "batch": batch, "obj": backend,
                             "load_s": round(t, 2), "ids": prompt_batch(ctx["tok"], batch,
                                                                        args.prompt_len)})
    live = [r for r in runs if "obj" in r]
    n = args.new_tokens
    # first calls: compile / warm-up for the 1-token and the N-token shapes
    m = n // 2 + 1
    for r in live:
        print(f"[warm-up] {r['backend']} {r['dtype']} batch {r['batch']}", flush=True)
        try:
            t1, _ = timed(r["obj"].generate, r["ids"], 1)
            tn, toks = timed(r["obj"].generate, r["ids"], n)
            tm, _ = timed(r["obj"].generate, r["ids"], m)
        except Exception as e:  # noqa: BLE001 - reported in the table
            print(f"[skip] {r['backend']} {r['dtype']} batch {r['batch']}: "
                  f"{type(e).__name__}: {e}", flush=True)
            r["error"] = f"{type(e).__name__}: {e}"
            continue
        r.update(first_1=t1, first_n=tn, first_m=tm, tokens=toks, t1=[], tm=[], tn=[], load=[])
    live = [r for r in live if "error" not in r]
    for rnd in range(args.repeats):
        for r in live:
            t1, _ = timed(r["obj"].generate, r["ids"], 1)
            la = load_average()
            tm, _ = timed(r["obj"].generate, r["ids"], m)
            tn, _ = timed(r["obj"].generate, r["ids"], n)
            r["t1"].append(t1)
            r["tm"].append(tm)
            r["tn"].append(tn)
            r["load"].append(la)
        print(f"[round {rnd + 1}/{args.repeats}] load average {load_average()}", flush=True)
    bw = ctx["bandwidth"]["used_gbs"] * 1e9
    for r in live:
        b = r["batch"]
        t1, tm, tn = min(r["t1"]), min(r["tm"]), min(r["tn"])
        # t_N <= t_M happens only under heavy load with few steps: report the total rate
        # (prefill included, a lower bound) instead of a meaningless ratio
        steps_timed = tn > tm
        dec = b * (n - m) / (tn - tm) if steps_timed else b * n / tn
        nbytes, _, cbytes = bytes_per_step(
            config, b, args.prompt_len + n, 2 if r["dtype"] == "bfloat16" else 4,
            getattr(r["obj"], "weight_bytes", None))
        bound = b * bw / nbytes
        ref = next((x for x in live if x["backend"] == "torch" and x["dtype"] == r["dtype"]
                    and x["batch"] == b), None)
        agree = None
        if ref is not None:
            agree = float((r["tokens"] == ref["tokens"]).mean())
        r.update(prefill_ms=round(1000 * t1, 1), decode_tok_s=round(dec, 1),
                 total_tok_s=round(b * n / tn, 1),
                 compile_s=round(max(r["first_1"] - t1, 0) + max(r["first_n"] - tn, 0)
                                 + max(r["first_m"] - tm, 0), 1),
                 bound_tok_s=round(bound, 1), bound_share=round(dec / bound, 3),
                 bytes_per_step_mb=round(nbytes / 1e6, 1), kv_mb=round(cbytes / 1e6, 1),
                 same_tokens_as_torch=agree, load_avg=r["load"],
                 decode_from_total=not steps_timed)
    if "llama.cpp" in args.backends:
        runs += run_llamacpp(args, ctx)
    return runs


def run_llamacpp(args, ctx):
    """llama.cpp's rows (scripts/_llamacpp_peer.py), on the GGUF file itself."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _llamacpp_peer

    total = args.prompt_len + args.new_tokens

    def cache_bytes(batch):  # llama.cpp's default KV cache type is f16
        return bytes_per_step(ctx["config"], batch, total, 2)[2]

    return _llamacpp_peer.run_rows(args, ctx["path"], args.batch,
                                   ctx["bandwidth"]["used_gbs"], cache_bytes)


def print_table(runs, args):
    print()
    print(f"SmolLM2-135M-Instruct, prompt {args.prompt_len} tokens, {args.new_tokens} new "
          f"tokens, greedy; min over {args.repeats} round-robin rounds")
    head = ("| backend | dtype | batch | decode tok/s | x best peer | x llama.cpp | prefill ms | "
            "compile s | bound tok/s | share of bound | same tokens as torch | load avg |")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for r in runs:
        if "error" in r:
            print(f"| {r['backend']} | {r['dtype']} | {r.get('batch', '')} | "
                  f"skipped: {r['error'][:80]} |")
            continue
        ok = [x for x in runs if "error" not in x and x["batch"] == r["batch"]]
        tfhf_row = r["backend"].startswith("tfhf")
        peers = [x["decode_tok_s"] for x in ok if not x["backend"].startswith("tfhf")
                 and x["backend"] != "llama.cpp" and x["dtype"] == r["dtype"]]
        ratio = f"{r['decode_tok_s'] / max(peers):.2f}" if tfhf_row and peers else ""
        lcpp = [x["decode_tok_s"] for x in ok if x["backend"] == "llama.cpp"]
        vs_lcpp = (f"{r['decode_tok_s'] / lcpp[0]:.2f}" if lcpp and r["backend"] != "llama.cpp"
                   else "")
        same = "" if r["same_tokens_as_torch"] is None else f"{r['same_tokens_as_torch']:.2f}"
        la = [x for x in r["load_avg"] if x is not None]
        la = f"{min(la):.1f}-{max(la):.1f}" if la else ""
        print(f"| {r['backend']} | {r['dtype']} | {r['batch']} | {r['decode_tok_s']} | {ratio} "
              f"| {vs_lcpp} | {r['prefill_ms']} | {r['compile_s']} | {r['bound_tok_s']} | "
              f"{100 * r['bound_share']:.0f}% | {same} | {la} |")


def run_agreement(args, ctx):
    """bf16 vs float32 tfhf greedy tokens over 20 chat prompts (the model's EOS ends a row;
    both sides pad after it). Reports the share of identical tokens position by position and
    how many tokens each prompt keeps identical before the first difference."""
    import numpy as np

    import tfhf

    tok, config = ctx["tok"], ctx["config"]
    rows = [tok.apply_chat_template([{"role": "user", "content": p}],
                                    add_generation_prompt=True) for p in AGREEMENT_PROMPTS]
    rows = [list(r["input_ids"] if hasattr(r, "keys") else r) for r in rows]
    # one left-padded batch (tfhf gives each row the tokens it gets alone)
    width = max(len(r) for r in rows)
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    ids = np.full((len(rows), width), pad, np.int32)
    mask = np.zeros((len(rows), width), np.int32)
    for i, r in enumerate(rows):
        ids[i, width - len(r):], mask[i, width - len(r):] = r, 1
    out = {}
    for dtype in ("float32", "bfloat16"):
        model = tfhf.TFAutoModelForCausalLM.from_pretrained(ctx["folder"], gguf_file=ctx["gguf"],
                                                            dtype=dtype)
        seq = model.generate(ids, attention_mask=mask, max_new_tokens=args.new_tokens,
                             do_sample=False, pad_token_id=pad)
        out[dtype] = seq.numpy()[:, width:]
        del model
        gc.collect()
    a, b = out["float32"], out["bfloat16"]
    same = a == b
    first = [int(np.argmin(s)) if not s.all() else len(s) for s in same]
    result = {"prompts": len(rows), "new_tokens": args.new_tokens,
              "identical_token_share": round(float(same.mean()), 3),
              "identical_prompts": int(same.all(axis=1).sum()),
              "mean_tokens_before_first_difference": round(float(np.mean(first)), 1),
              "first_difference_per_prompt": first}
    print(json.dumps(result, indent=1))
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", default=",".join(DEFAULT_BACKENDS),
                   help=f"comma-separated, from {', '.join(BACKENDS)} (default: "
                        f"{','.join(DEFAULT_BACKENDS)}); NAME:DTYPE runs NAME in that "
                        "--dtype only (e.g. torch:bfloat16)")
    p.add_argument("--batch", default="1,8", help="comma-separated batch sizes")
    p.add_argument("--dtype", default=",".join(DTYPES), help="float32 and/or bfloat16")
    p.add_argument("--prompt-len", type=int, default=64)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2, help="timed round-robin rounds")
    p.add_argument("--threads", type=int, default=0,
                   help="threads for torch and TF (0: the libraries' defaults)")
    p.add_argument("--llama-bench", metavar="PATH",
                   help="llama.cpp's llama-bench binary (default: $LLAMA_BENCH, then PATH)")
    p.add_argument("--agreement", action="store_true",
                   help="instead of timing: bf16 vs float32 greedy tokens over 20 prompts")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--plot", metavar="PATH", help="write a PNG chart of the results here "
                   "(needs matplotlib; see scripts/plot_benchmarks.py)")
    args = p.parse_args(argv)
    if args.plot:  # fails now, not after the run, when matplotlib is missing
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _plots

        _plots.require_matplotlib()
    entries = [b.strip().partition(":") for b in args.backends.split(",") if b.strip()]
    args.backends = list(dict.fromkeys(name for name, _, _ in entries))
    args.backend_dtypes = {}  # name -> the dtypes it runs in, when restricted
    for name, _, dtype in entries:
        if dtype:
            args.backend_dtypes.setdefault(name, set()).add(dtype)
    unknown = [b for b in args.backends if b not in BACKENDS]
    if unknown:
        p.error(f"unknown backends {unknown}; choose from {', '.join(BACKENDS)}")
    args.batch = [int(b) for b in args.batch.split(",")]
    args.dtype = [d.strip() for d in args.dtype.split(",")]
    if args.agreement and args.new_tokens == p.get_default("new_tokens"):
        args.new_tokens = 64

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    import tfhf
    from tfhf import assets

    if not assets.is_installed("smollm2"):
        raise SystemExit("the SmolLM2 asset is missing: run `tfhf assets install smollm2`")
    path = assets.path("smollm2")
    folder, gguf = os.path.split(path)
    ctx = {"folder": folder, "gguf": gguf, "path": path,
           "tok": tfhf.AutoTokenizer.from_pretrained(folder, gguf_file=gguf)}
    info = {"machine": machine(), "load_average_start": load_average(),
            "versions": {"tensorflow": tf.__version__}}
    if args.agreement:
        ctx["config"] = load_weights(path)[0]
        result = {"agreement": run_agreement(args, ctx), **info}
    else:
        import torch
        import transformers

        if args.threads:
            torch.set_num_threads(args.threads)
        info["versions"].update(torch=torch.__version__, transformers=transformers.__version__,
                                torch_threads=torch.get_num_threads())
        try:
            import keras_hub

            info["versions"]["keras_hub"] = keras_hub.__version__
        except ImportError:
            pass
        ctx["config"], ctx["sd"] = load_weights(path)
        ctx["bandwidth"] = measure_bandwidth()
        print(f"bandwidth: {ctx['bandwidth']}", flush=True)
        runs = run_speed(args, ctx)
        print_table(runs, args)
        clean = [{k: (v.tolist() if k == "tokens" else v) for k, v in r.items()
                  if k not in ("obj", "ids", "tokens")} for r in runs]
        result = {"runs": clean, "bandwidth": ctx["bandwidth"], **info,
                  "settings": {k: getattr(args, k) for k in
                               ("backends", "batch", "dtype", "prompt_len", "new_tokens",
                                "repeats", "threads")}}
    result["load_average_end"] = load_average()
    print(f"load average: start {info['load_average_start']}, end {result['load_average_end']}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if args.plot and "runs" in result:  # --agreement has no chart
        print(f"wrote {_plots.save_chart(result, args.plot)}")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
