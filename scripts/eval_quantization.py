"""Quality of quantized weights on SmolLM2-135M-Instruct (the `smollm2` asset): greedy
agreement with float32 over 20 chat prompts x 64 new tokens, and the mean negative
log-likelihood per token of held-out movie-review sentences (tfhf's shipped
``movie_reviews.csv``, the last ``--sentences`` rows) under float32 / int8 / int4 / gguf.

Issue 15's targets: int8's NLL within 1% of float32's, int4's within 5%. float32 is the GGUF
file's Q4_1 weights dequantized; int8 / int4 re-quantize them (``quantization="int8"`` /
``"int4"``, groups of 64); gguf keeps the file's blocks (``quantization="gguf"``: the same
values as float32, so it should agree fully). Not a timing: the figures do not depend on load.

    tfhf assets install smollm2
    python scripts/eval_quantization.py --json bench_out/quantization.json
    python scripts/eval_quantization.py --prompts 2 --new-tokens 4 --sentences 8   # smoke run
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = {"int8": 0.01, "int4": 0.05}  # relative NLL increase allowed over float32


def held_out_sentences(n):
    import tfhf

    path = os.path.join(os.path.dirname(tfhf.__file__), "data", "files", "movie_reviews.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r["text"] for r in csv.DictReader(fh)]
    return rows[-n:]


def left_padded(rows, pad):
    import numpy as np

    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad, np.int32)
    mask = np.zeros((len(rows), width), np.int32)
    for i, r in enumerate(rows):
        ids[i, width - len(r):], mask[i, width - len(r):] = r, 1
    return ids, mask


def mean_nll(model, tok, sentences, batch=16):
    """Mean negative log-likelihood per predicted token (nats), right-padded batches."""
    import numpy as np
    import tensorflow as tf

    total, count = 0.0, 0
    for start in range(0, len(sentences), batch):
        rows = [tok(s)["input_ids"][:128] for s in sentences[start:start + batch]]
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), np.int32)
        mask = np.zeros((len(rows), width), np.int32)
        for i, r in enumerate(rows):
            ids[i, :len(r)], mask[i, :len(r)] = r, 1
        logits = tf.cast(model(tf.constant(ids), attention_mask=tf.constant(mask)).logits,
                         tf.float32)
        logp = tf.nn.log_softmax(logits[:, :-1], axis=-1)
        target = tf.gather(logp, ids[:, 1:], batch_dims=2).numpy()
        weight = mask[:, 1:]
        total -= float((target * weight).sum())
        count += int(weight.sum())
    return total / max(count, 1)


def evaluate(mode, ctx, args):
    import tfhf

    q = None if mode == "float32" else mode
    model = tfhf.TFAutoModelForCausalLM.from_pretrained(ctx["folder"], gguf_file=ctx["gguf"],
                                                        quantization=q)
    nll = mean_nll(model, ctx["tok"], ctx["sentences"])
    seq = model.generate(ctx["ids"], attention_mask=ctx["mask"],
                         max_new_tokens=args.new_tokens, do_sample=False,
                         pad_token_id=ctx["pad"])
    tokens = seq.numpy()[:, ctx["ids"].shape[1]:]
    del model
    gc.collect()
    return nll, tokens


def main(argv=None):
    import numpy as np

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modes", default="float32,int8,int4,gguf")
    p.add_argument("--prompts", type=int, default=20, help="chat prompts (at most 20)")
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--sentences", type=int, default=200, help="held-out sentences for NLL")
    p.add_argument("--json", help="write the results to this JSON file")
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if modes[0] != "float32":
        modes.insert(0, "float32")

    import tfhf
    from tfhf import assets

    sys.path.insert(0, HERE)
    from bench_generate import AGREEMENT_PROMPTS

    if not assets.is_installed("smollm2"):
        raise SystemExit("the SmolLM2 asset is missing: run `tfhf assets install smollm2`")
    folder, gguf = os.path.split(assets.path("smollm2"))
    tok = tfhf.AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    rows = []
    for text in AGREEMENT_PROMPTS[:args.prompts]:
        out = tok.apply_chat_template([{"role": "user", "content": text}],
                                      add_generation_prompt=True)
        rows.append(list(out["input_ids"] if hasattr(out, "keys") else out))
    ids, mask = left_padded(rows, pad)
    ctx = {"folder": folder, "gguf": gguf, "tok": tok, "pad": pad, "ids": ids, "mask": mask,
           "sentences": held_out_sentences(args.sentences)}
    results, ref = {}, None
    for mode in modes:
        print(f"[{mode}] loading, scoring {args.sentences} sentences, generating", flush=True)
        nll, tokens = evaluate(mode, ctx, args)
        ref = tokens if ref is None else ref
        same = tokens == ref
        first = [int(np.argmin(s)) if not s.all() else len(s) for s in same]
        results[mode] = {"nll": round(nll, 5),
                         "identical_token_share": round(float(same.mean()), 3),
                         "identical_prompts": int(same.all(axis=1).sum()),
                         "mean_tokens_before_first_difference": round(float(np.mean(first)), 1)}
    base = results["float32"]["nll"]
    print(f"\nSmolLM2-135M-Instruct: {len(rows)} prompts x {args.new_tokens} greedy tokens, "
          f"NLL of {args.sentences} held-out sentences")
    print("| weights | NLL | vs float32 | target | identical tokens | identical prompts |")
    print("|---|---|---|---|---|---|")
    for mode, r in results.items():
        r["nll_vs_float32"] = round(r["nll"] / base - 1, 4)
        target = TARGETS.get(mode)
        r["within_target"] = None if target is None else r["nll_vs_float32"] <= target
        print(f"| {mode} | {r['nll']:.4f} | {100 * r['nll_vs_float32']:+.2f}% | "
              f"{'' if target is None else f'<= {100 * target:.0f}%'} | "
              f"{r['identical_token_share']:.3f} | {r['identical_prompts']}/{len(rows)} |")
    out = {"results": results, "settings": {"prompts": len(rows), "new_tokens": args.new_tokens,
                                            "sentences": args.sentences, "modes": modes}}
    print(json.dumps(out, indent=1))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return out


if __name__ == "__main__":
    sys.exit(main() and 0)
