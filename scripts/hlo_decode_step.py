"""What one decode step runs: XLA kernels of the compiled greedy loop, from its optimized HLO.

Builds a small random Llama-shaped model (no download), runs one greedy ``generate`` (XLA),
takes the optimized HLO of the compiled loop and counts the operations of the ``while`` body,
including the branch a ``conditional`` runs, plus the K/V-buffer copies and the weight
concatenations left inside the loop. Prints the tokens (to compare checkouts: same seed, same
weights) and one JSON line. No timing: these are counts, valid on a loaded machine.

    python scripts/hlo_decode_step.py --layers 2 --batch 1 --hlo /tmp/step.txt
    PYTHONPATH=/path/to/other/checkout python scripts/hlo_decode_step.py
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFHF_COMPILE_NOTICE", "0")
os.environ.setdefault("TFHF_XLA_CACHE", "0")

_TRIVIAL = {"get-tuple-element", "tuple", "constant", "parameter", "bitcast"}


def computations(hlo):
    out = {}
    for block in re.split(r"\n(?=\S)", hlo):
        head = block.split("\n", 1)[0]
        if "{" in head:
            out["ENTRY" if head.startswith("ENTRY") else head.split()[0].lstrip("%")] = block
    return out


def count_ops(comps, name, kv_shape):
    """Operations of computation ``name`` (a conditional counts its largest branch)."""
    c = collections.Counter()
    for line in comps[name].split("\n")[1:]:
        m = re.search(r"=\s*(?:\([^=]*?\)|\S+)\s+([\w\-]+)\(", line)
        if not m:
            continue
        op = m.group(1)
        if op == "conditional":
            branches = re.findall(r"(?:true|false)_computation=%?([\w.\-]+)", line)
            if "branch_computations" in line:
                branches = re.findall(r"%([\w.\-]+)", line.split("branch_computations=")[1])
            c.update(max((count_ops(comps, b, kv_shape) for b in branches),
                         key=lambda x: sum(x.values())))
            c["conditional"] += 1
        elif op not in _TRIVIAL:
            c[op] += 1
            if op == "copy" and kv_shape in line.split("copy(")[0]:
                c["copy of a K/V buffer"] += 1
    return c


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--new-tokens", type=int, default=8)
    parser.add_argument("--hlo", help="also write the optimized HLO to this file")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf
    import transformers

    import tfhf
    from tfhf.generation import loop, run

    cfg = transformers.LlamaConfig(
        vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=args.layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        pad_token_id=0)
    model = tfhf.TFAutoModelForCausalLM.from_config(cfg)
    rs = np.random.RandomState(0)
    for w in model.weights:
        w.assign(rs.normal(0, 0.05, w.shape).astype("float32"))
    seen = {}
    functions_for = loop.functions_for

    def recording(m, spec, use_xla):
        full, cont = functions_for(m, spec, use_xla)

        def call(*a):
            seen["fn"], seen["args"] = full, a
            return full(*a)

        return call, cont

    run.functions_for = recording
    ids = tf.constant([[5, 6, 7, 8, 9]] * args.batch, tf.int32)
    tokens = model.generate(ids, max_new_tokens=args.new_tokens, do_sample=False)
    fn = getattr(seen["fn"], "function", seen["fn"])
    hlo = fn.experimental_get_compiler_ir(*seen["args"])(stage="optimized_hlo")
    if args.hlo:
        with open(args.hlo, "w") as f:
            f.write(hlo)
    comps = computations(hlo)
    body = re.findall(r"while\(.*?body=%?([\w.\-]+)", hlo)[0]
    # one layer's K (or V) buffer: (batch, kv_heads, slots, head_dim)
    kv_shape = f"f32[{args.batch},2,"
    per_step = count_ops(comps, body, kv_shape)
    kernels = sum(v for k, v in per_step.items()
                  if k not in ("conditional", "copy of a K/V buffer"))
    print("tokens", tokens.numpy().tolist())
    result = {"layers": args.layers, "batch": args.batch, "kernels_per_step": kernels,
              "per_step": dict(sorted(per_step.items())),
              "concatenates_in_loop": per_step.get("concatenate", 0)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
