"""Export tfhf's XLA programs so that a machine without TensorFlow can run them (a GPU with JAX).

An XLA program is portable: ``f.experimental_get_compiler_ir(*args)(stage="hlo_serialized")``
on a ``tf.function(jit_compile=True)`` gives the HLO module TensorFlow would compile, whose
parameters are the function's (flattened) tensor arguments followed by the variables it
captures. ``scripts/gpu_run.py`` turns it into StableHLO with jaxlib, compiles it with JAX's
XLA backend (GPU or CPU) and runs it, with no TensorFlow and no tfhf on that machine.

Exported (into ``--out``, default ``gpu_programs/``):

* the compiled decode loop of ``generate`` (greedy, prefill + ``tf.while_loop``) for every
  (model, dtype, batch): SmolLM2-135M-shaped and Llama-3.2-1B-shaped configs, weights stored
  in bfloat16 / float16, batch 1 / 8 / 64, prompt bucket 64 and 64 new-token slots;
* one Keras ``fit`` train step (``model.train_step`` under ``jit_compile=True``, what ``fit``
  compiles) of a BERT-base-shaped sequence classifier under ``mixed_bfloat16`` /
  ``mixed_float16`` (tfhf's AdamW from ``create_optimizer``, batch 32 x 128 tokens);
* the same two programs for TINY models, with all their real weights, inputs and
  TensorFlow's outputs (the greedy tokens of ``generate``, the train step's loss) in
  ``values.npz``, so that the runner checks it computes what TF computes.

Full-size weights are not exported (they would not fit a 64 MiB transfer): ``manifest.json``
lists every parameter's shape and dtype, and the runner fills the large ones with seeded
random values on the device. Small tensors (norm scales, biases, optimizer counters, the
loss scale, inputs) are stored with their real values. Programs are stored without op
metadata, gzipped (a few hundred KB each).

    python scripts/gpu_export.py --out gpu_programs/          # everything (a few minutes)
    python scripts/gpu_export.py --out /tmp/p --configs tiny  # the tiny check programs only
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TFHF_COMPILE_NOTICE", "0")

import numpy as np  # noqa: E402

FORMAT = 1
SMALL = 65536  # default --store-max-elements

LLAMA_CONFIGS = {
    # SmolLM2-135M(-Instruct): the shipped GGUF's architecture
    "smollm2-135m": dict(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                         num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         max_position_embeddings=8192, rms_norm_eps=1e-5,
                         rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
                         tie_word_embeddings=True),
    # Llama-3.2-1B
    "llama-1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192,
                     num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                     head_dim=64, max_position_embeddings=131072, rms_norm_eps=1e-5,
                     rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0,
                                      "factor": 32.0, "high_freq_factor": 4.0,
                                      "low_freq_factor": 1.0,
                                      "original_max_position_embeddings": 8192},
                     tie_word_embeddings=True),
    "tiny": dict(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                 tie_word_embeddings=False),
}
BERT_CONFIGS = {
    "bert-base": dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                      num_attention_heads=12, intermediate_size=3072, num_labels=2),
    "tiny": dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=37, num_labels=2, hidden_dropout_prob=0.0,
                 attention_probs_dropout_prob=0.0),
}
CHECK_SEED = 7


# ---------------------------------------------------------------------------- HLO
def flatten_with_paths(structure, prefix=""):
    """``tf.nest.flatten`` order (dict keys sorted) with a ``a/b/0`` path for each leaf."""
    if isinstance(structure, dict):
        out = []
        for k in sorted(structure):
            out += flatten_with_paths(structure[k], f"{prefix}{k}/")
        return out
    if isinstance(structure, (list, tuple)):
        out = []
        for i, v in enumerate(structure):
            out += flatten_with_paths(v, f"{prefix}{i}/")
        return out
    return [(prefix.rstrip("/"), structure)]


def _xla_type(dtype):
    names = {"float32": "F32", "bfloat16": "BF16", "float16": "F16", "float64": "F64",
             "int32": "S32", "int64": "S64", "uint32": "U32", "uint8": "U8", "int8": "S8",
             "bool": "PRED", "uint64": "U64"}
    return names[dtype]


def hlo_program(fn, args):
    """``(serialized HloModuleProto without op metadata, [(xla type, dims) per parameter],
    result element count, [[result index, parameter number] per aliased pair])`` of the
    jit-compiled ``fn(*args)``. Aliased pairs are the variables the program updates in place
    (a train step's weights and optimizer slots): the runner feeds such a result back as the
    next call's parameter, as TF does with the variable."""
    from tensorflow.compiler.xla import xla_data_pb2
    from tensorflow.compiler.xla.service import hlo_pb2

    raw = fn.experimental_get_compiler_ir(*args)(stage="hlo_serialized")
    module = hlo_pb2.HloModuleProto()
    module.ParseFromString(raw)
    for comp in module.computations:
        for instr in comp.instructions:
            instr.ClearField("metadata")
    shape = module.host_program_shape
    params = [(xla_data_pb2.PrimitiveType.Name(p.element_type), list(p.dimensions))
              for p in shape.parameters]
    aliases = [[int(e.output_shape_index[0]), int(e.parameter_number)]
               for e in module.input_output_alias.entries if len(e.output_shape_index) == 1]
    return module.SerializeToString(), params, len(shape.result.tuple_shapes), aliases


def describe_parameters(fn, args, hlo_params, model_variables):
    """Name every HLO parameter: the flattened arguments TF kept (zero-size and compile-time
    constant arguments are folded into the program) and then the captured variables, the
    model's ("weight") and the rest ("state": optimizer slots and counters, metrics).
    -> list of (name, role, numpy value or variable)."""
    model_handles = {id(v.handle) for v in model_variables}
    concrete = fn.get_concrete_function(*args)
    by_handle = {id(v.handle): v for v in concrete.variables}
    out, j = [], 0
    for path, value in flatten_with_paths(args):
        arr = np.asarray(value)
        want = (_xla_type(arr.dtype.name if arr.dtype != object else "int32"), list(arr.shape))
        if j < len(hlo_params) and tuple(hlo_params[j]) == want and arr.size:
            out.append((path, "input", arr))
            j += 1
    for cap in concrete.captured_inputs:
        var = by_handle.get(id(cap))
        if var is not None:
            role = "weight" if id(cap) in model_handles else "state"
            out.append((var.name.split(":")[0], role, var))
        else:  # a captured constant tensor
            out.append((f"capture_{len(out)}", "input", cap.numpy()))
    if len(out) != len(hlo_params):
        raise RuntimeError(f"could not match the {len(hlo_params)} HLO parameters to the "
                           f"function's {len(out)} arguments and captures")
    for (name, _, value), (xt, dims) in zip(out, hlo_params):
        dtype, shape = value.dtype.name, [int(d) for d in value.shape]
        if (_xla_type(dtype), shape) != (xt, dims):
            raise RuntimeError(f"parameter {name}: {dtype}{shape} but the HLO has {xt}{dims}")
    return out


class Store:
    """``values.npz`` entries and the manifest of one export folder."""

    def __init__(self, out, store_max=SMALL):
        self.out, self.values, self.programs = out, {}, []
        self.store_max = store_max

    def array(self, key, value):
        arr = np.asarray(value)
        if arr.dtype.name == "bfloat16":  # numpy cannot save it: store the bits
            self.values[key] = arr.view(np.uint16)
            return {"key": key, "stored_as": "uint16"}
        self.values[key] = arr
        return {"key": key}

    def program(self, name, fn, args, info, model_variables, keep_all=False):
        """Write ``name.hlo.pb.gz`` and its manifest entry; ``keep_all`` stores every weight
        (tiny models), else only tensors of at most ``store_max`` elements."""
        proto, hlo_params, n_results, aliases = hlo_program(fn, args)
        params = []
        for i, (pname, role, value) in enumerate(describe_parameters(fn, args, hlo_params,
                                                                     model_variables)):
            arr = value if isinstance(value, np.ndarray) else None
            shape = [int(d) for d in value.shape]
            entry = {"name": pname, "role": role, "shape": shape,
                     "dtype": value.dtype.name}
            if arr is None and (keep_all or int(np.prod(shape)) <= self.store_max):
                arr = value.numpy()
            if arr is not None:
                entry["value"] = self.array(f"{name}/{i}", arr)
            params.append(entry)
        fname = f"{name}.hlo.pb.gz"
        with gzip.open(os.path.join(self.out, fname), "wb", compresslevel=9) as fh:
            fh.write(proto)
        self.programs.append({"name": name, "file": fname, "parameters": params,
                              "num_results": n_results, "aliases": aliases, **info})
        print(f"[export] {name}: {len(params)} parameters, "
              f"{os.path.getsize(os.path.join(self.out, fname)) / 1e3:.0f} kB", flush=True)
        return self.programs[-1]

    def write(self, settings):
        import tensorflow as tf

        np.savez_compressed(os.path.join(self.out, "values.npz"), **self.values)
        manifest = {"format": FORMAT, "exported_with": {
            "tensorflow": tf.__version__, "python": platform.python_version(),
            "keras": _keras_name()}, "settings": settings, "programs": self.programs}
        with open(os.path.join(self.out, "manifest.json"), "w") as fh:
            json.dump(manifest, fh, indent=1)
        return manifest


def _keras_name():
    from tfhf._keras import IS_KERAS_3, keras

    return f"{'keras' if IS_KERAS_3 else 'tf_keras'} {keras.__version__}"


@contextlib.contextmanager
def built_without_init(enabled):
    """Full-size models: variables created as zeros (their values are never used here)."""
    if not enabled:
        yield
        return
    from tfhf import _keras

    with _keras.deferred_init():
        yield


# ---------------------------------------------------------------------------- decode
class _Captured(Exception):
    pass


@contextlib.contextmanager
def capture_decode_loop(run):
    """While active, ``generate`` records the compiled decode function and its arguments in
    the yielded dict (``fn``, ``args``); with ``run=False`` it stops before running it."""
    from tfhf.generation import run as generation_run

    seen = {}
    original = generation_run.functions_for

    def functions_for(model, spec, use_xla):
        full, cont = original(model, spec, use_xla)

        def recorded(*args):
            seen.update(fn=full, args=args, spec=spec)
            if not run:
                raise _Captured()
            return full(*args)

        return recorded, cont

    generation_run.functions_for = functions_for
    try:
        yield seen
    finally:
        generation_run.functions_for = original


def llama_config(name):
    import transformers

    return transformers.LlamaConfig(**LLAMA_CONFIGS[name], pad_token_id=0, bos_token_id=1,
                                    eos_token_id=2)


def decode_bytes(cfg, batch, total_len, dtype_bytes):
    """Bytes one decode step reads: every weight matrix once (the embedding gather aside, the
    LM head counted) and the K/V cache of ``batch`` rows over the bucket's ``total_len``
    slots (tfhf's step attends over every slot of the bucket)."""
    h, v, n = cfg.hidden_size, cfg.vocab_size, cfg.num_hidden_layers
    heads, kv = cfg.num_attention_heads, cfg.num_key_value_heads
    d = getattr(cfg, "head_dim", None) or h // heads
    per_layer = h * heads * d + 2 * h * kv * d + heads * d * h + 3 * h * cfg.intermediate_size
    per_layer += 2 * h
    weights = (n * per_layer + h + v * h) * dtype_bytes
    cache = batch * n * 2 * kv * total_len * d * dtype_bytes
    return {"weights": weights, "kv_cache": cache, "total": weights + cache}


def export_decode(store, name, dtype, batches, prompt_len, new_tokens, check):
    """Decode programs of one (config, dtype), one per batch size. ``check``: tiny model with
    real weights, run in TF too; its tokens go into values.npz."""
    import tensorflow as tf

    import tfhf

    cfg = llama_config(name)
    tf.keras.utils.set_random_seed(CHECK_SEED)
    with built_without_init(not check):
        model = tfhf.TFAutoModelForCausalLM.from_config(cfg, dtype=dtype)
    rng = np.random.RandomState(CHECK_SEED)
    for batch in batches:
        ids = rng.randint(3, cfg.vocab_size, size=(batch, prompt_len)).astype(np.int32)
        with capture_decode_loop(run=check) as seen:
            try:
                out = model.generate(ids, max_new_tokens=new_tokens, do_sample=False,
                                     eos_token_id=None, pad_token_id=0)
            except _Captured:
                out = None
        spec = seen["spec"]
        label = f"{'check-' if check else ''}decode-{name}-{dtype}-b{batch}"
        outputs = [p for p, _ in flatten_with_paths(
            seen["fn"].get_concrete_function(*seen["args"]).structured_outputs)]
        info = {"kind": "decode", "model": name, "dtype": dtype, "batch": batch,
                "config": {k: v for k, v in LLAMA_CONFIGS[name].items()},
                "prompt_len": prompt_len, "new_tokens": new_tokens,
                "prompt_bucket": spec.prompt_len, "new_bucket": spec.new_len,
                "outputs": outputs,
                "bytes_per_step": decode_bytes(cfg, batch, spec.total_len,
                                               tf.as_dtype(model.variables[0].dtype).size)}
        entry = store.program(label, seen["fn"], seen["args"], info, model.variables,
                              keep_all=check)
        if check:
            entry["check"] = {"tokens": store.array(f"{label}/expected_tokens",
                                                    out.numpy()[:, prompt_len:]),
                              "ids_output": outputs.index("ids"),
                              "prompt_start": spec.prompt_len - prompt_len}
    del model


# ---------------------------------------------------------------------------- train
def train_flops(cfg, batch, seq):
    """Matmul FLOPs of one BERT train step (forward + backward = 3x forward): 6 x params in
    matmuls x tokens, plus attention scores and values (4 b s^2 h per layer forward)."""
    h, f, n = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    matmul_params = n * (4 * h * h + 2 * h * f) + h * h + h * cfg.num_labels
    return 6 * matmul_params * batch * seq + 3 * n * 4 * batch * seq * seq * h


def export_train(store, name, policy, batch, seq, check):
    """One ``fit`` train step of a BERT sequence classifier under ``policy``."""
    import tensorflow as tf
    import transformers

    import tfhf

    cfg = transformers.BertConfig(**BERT_CONFIGS[name])
    tf.keras.utils.set_random_seed(CHECK_SEED)
    with built_without_init(not check):
        model = tfhf.TFAutoModelForSequenceClassification.from_config(cfg, dtype=policy)
    opt, _ = tfhf.create_optimizer(2e-5, 1000, 0, weight_decay_rate=0.01)
    model.compile(optimizer=opt, jit_compile=False)
    rng = np.random.RandomState(CHECK_SEED)

    def data(b, s):
        x = {"input_ids": rng.randint(1, cfg.vocab_size, size=(b, s)).astype(np.int32),
             "attention_mask": np.ones((b, s), np.int32),
             "token_type_ids": np.zeros((b, s), np.int32)}
        return x, rng.randint(0, cfg.num_labels, size=(b,)).astype(np.int32)

    # one small step through Keras' own train function creates the optimizer's and the
    # metrics' variables (they cannot be created inside the exported function)
    model.train_on_batch(*data(2, min(seq, 16)))
    x, y = data(batch, seq)
    args = ((x, y),)
    fn = tf.function(model.train_step, jit_compile=True)
    label = f"{'check-' if check else ''}train-{name}-{policy}-b{batch}"
    concrete = fn.get_concrete_function(*args)
    outputs = [p for p, _ in flatten_with_paths(concrete.structured_outputs)]
    info = {"kind": "train", "model": name, "policy": policy, "batch": batch, "seq": seq,
            "config": dict(BERT_CONFIGS[name]), "outputs": outputs,
            "flops_per_step": train_flops(cfg, batch, seq)}
    entry = store.program(label, fn, args, info, model.variables, keep_all=check)
    if check:
        logs = fn(*args)  # after the export: the stored values are the state before the step
        flat = [np.asarray(v) for _, v in flatten_with_paths(logs)]
        entry["check"] = {"outputs": [store.array(f"{label}/expected_{i}", v)
                                      for i, v in enumerate(flat)]}
    del model


# ---------------------------------------------------------------------------- main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="gpu_programs", help="output folder (created)")
    p.add_argument("--configs", default="tiny,smollm2-135m,llama-1b,bert-base",
                   help="comma-separated from tiny (the check programs, always real weights), "
                        f"{', '.join(k for k in LLAMA_CONFIGS if k != 'tiny')}, "
                        f"{', '.join(k for k in BERT_CONFIGS if k != 'tiny')}")
    p.add_argument("--dtypes", default="bfloat16,float16",
                   help="decode weight dtypes / policies (from_pretrained's dtype=)")
    p.add_argument("--batch", default="1,8,64", help="decode batch sizes")
    p.add_argument("--prompt-len", type=int, default=64)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--policies", default="mixed_bfloat16,mixed_float16",
                   help="train-step dtype policies")
    p.add_argument("--train-batch", type=int, default=32)
    p.add_argument("--train-seq", type=int, default=128)
    p.add_argument("--tiny-bench", action="store_true",
                   help="also export the tiny models' programs for timing (tests of gpu_run)")
    p.add_argument("--store-max-elements", type=int, default=SMALL,
                   help="weights up to this size are stored with their values, larger ones "
                        "are filled with seeded random values on the device")
    args = p.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in LLAMA_CONFIGS and c not in BERT_CONFIGS]
    if unknown:
        raise SystemExit(f"unknown --configs {unknown}; choose from "
                         f"{sorted(set(LLAMA_CONFIGS) | set(BERT_CONFIGS))}")
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    batches = [int(b) for b in args.batch.split(",")]
    policies = [d.strip() for d in args.policies.split(",") if d.strip()]
    os.makedirs(args.out, exist_ok=True)
    store = Store(args.out, args.store_max_elements)
    t0 = time.perf_counter()
    if "tiny" in configs:  # float32: XLA in TF and in jaxlib must pick the same tokens
        export_decode(store, "tiny", "float32", [2], 7, 10, check=True)
        export_train(store, "tiny", "float32", 4, 16, check=True)
    for name in configs:
        if name in LLAMA_CONFIGS and (name != "tiny" or args.tiny_bench):
            for dtype in dtypes:
                export_decode(store, name, dtype, batches, args.prompt_len, args.new_tokens,
                              check=False)
    for name in configs:
        if name in BERT_CONFIGS and (name != "tiny" or args.tiny_bench):
            for policy in policies:
                export_train(store, name, policy, args.train_batch, args.train_seq,
                             check=False)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    store.write(settings)
    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"wrote {len(store.programs)} programs to {args.out} ({size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - t0:.0f} s")
    return store.programs


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
