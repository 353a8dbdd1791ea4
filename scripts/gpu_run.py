"""Run tfhf's exported XLA programs (``scripts/gpu_export.py``) with JAX's XLA backend, on a
GPU machine that has JAX, PyTorch and numpy but no TensorFlow (and no tfhf). CPU works too.

For each program in ``--programs`` (a folder written by gpu_export.py):
``hlo_to_stablehlo`` (jaxlib) -> ``backend.compile_and_load`` -> ``execute``.

1. **Check**: the tiny programs run with their real weights and inputs; the decode loop's
   greedy tokens must equal the tokens TF's ``generate`` returned at export, and the train
   step's outputs (the loss) TF's. A mismatch exits with status 1 after the table.
2. **Decode**: every full-size decode program, weights filled with seeded random values on
   the device (norm scales, biases and inputs keep their exported values). One program runs
   prefill plus ``k - 1`` decode steps for a runtime ``max_new_tokens = k``: prefill time is
   the ``k = 1`` call; decode tok/s is ``batch * (N - M) / (t_N - t_M)``; the share of the
   HBM bound uses the bytes a step reads (weights + the K/V cache, from the manifest) over the
   bandwidth measured here (a large reduction and a copy; the larger).
3. **Train**: every train-step program (BERT-base-shaped ``fit`` step under a mixed policy):
   median step time over ``--train-steps`` calls, samples/s and MFU (matmul FLOPs of the
   step over the device's dense peak for the compute dtype; ``--peak-tflops`` overrides).
4. **PyTorch peers** on the same device (``gpu_torch_peer.py``): the same shapes in eager
   PyTorch and, within ``--torch-compile-budget`` seconds of compiling, with
   ``torch.compile`` (decode: the step under CUDA graphs; train: the model).

Prints a table and writes JSON (``--json``, rewritten after every row so that a run cut short
keeps what it measured).

    python scripts/gpu_run.py --programs gpu_programs/ --json $OUT/gpu.json
    python scripts/gpu_run.py --programs gpu_programs/ --check-only      # CPU is fine
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

# dense peak TFLOP/s (bf16 = fp16) by device-kind substring, for MFU
PEAK_TFLOPS = (("H200", 989.0), ("H100 NVL", 835.0), ("H100 PCIe", 756.0), ("H100", 989.0),
               ("GH200", 989.0), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0))


# ---------------------------------------------------------------------------- XLA via jaxlib
def xla():
    import jax
    import jax.extend  # noqa: F401 - registers jax.extend.backend
    from jax._src.lib import xla_client

    # programs have int64 parameters (optimizer iterations): keep them 64-bit
    jax.config.update("jax_enable_x64", True)
    return jax, xla_client


def to_stablehlo(proto):
    _, xc = xla()
    mlir = getattr(xc._xla, "mlir", None)
    if mlir is None or not hasattr(mlir, "hlo_to_stablehlo"):
        raise RuntimeError("this jaxlib has no xla_client._xla.mlir.hlo_to_stablehlo")
    return mlir.hlo_to_stablehlo(proto)


def compile_program(module, device):
    jax, xc = xla()
    backend = jax.extend.backend.get_backend(device.platform)
    options = xc.CompileOptions()
    if hasattr(backend, "compile_and_load"):
        return backend.compile_and_load(module, xc.DeviceList((device,)), options)
    return backend.compile(module, options)  # older jaxlib


def run(exe, args):
    """Execute and wait for every result; -> the results (device arrays)."""
    out = exe.execute(args)
    for o in out:
        o.block_until_ready()
    return out


class Program:
    """One exported program: its manifest entry, compiled executable and device arguments."""

    def __init__(self, folder, entry, values, device, seed):
        self.entry, self.device = entry, device
        with gzip.open(os.path.join(folder, entry["file"]), "rb") as fh:
            proto = fh.read()
        t = time.perf_counter()
        self.exe = compile_program(to_stablehlo(proto), device)
        self.compile_s = time.perf_counter() - t
        self.names = [p["name"] for p in entry["parameters"]]
        self.args = [self._arg(p, values, seed + i) for i, p in enumerate(entry["parameters"])]

    def _arg(self, p, values, seed):
        jax, _ = xla()
        import jax.numpy as jnp

        if "value" in p:
            return jax.device_put(host_value(values, p["value"], p["dtype"]), self.device)
        dtype = jnp.dtype(p["dtype"])
        with jax.default_device(self.device):
            if p["role"] == "state" or not jnp.issubdtype(dtype, jnp.floating):
                return jnp.zeros(p["shape"], dtype)  # optimizer slots, counters
            key = jax.random.PRNGKey(seed)
            return jax.random.normal(key, p["shape"], dtype) * jnp.asarray(0.02, dtype)

    def set_input(self, suffix, value):
        """Replace the input whose name ends with ``suffix`` (e.g. ``/max_new``)."""
        jax, _ = xla()
        for i, name in enumerate(self.names):
            if name.endswith(suffix):
                old = self.args[i]
                self.args[i] = jax.device_put(np.asarray(value, dtype=old.dtype), self.device)
                return
        raise KeyError(f"{self.entry['name']} has no input named *{suffix}")

    def output(self, outs, name):
        return np.asarray(outs[self.entry["outputs"].index(name)])

    def __call__(self):
        outs = run(self.exe, self.args)
        # results aliased to parameters (variables updated in place) replace them
        for result, param in self.entry.get("aliases", ()):
            self.args[param] = outs[result]
        return outs


def host_value(values, ref, dtype):
    arr = values[ref["key"]]
    if ref.get("stored_as") == "uint16" and dtype == "bfloat16":
        import ml_dtypes

        arr = arr.view(ml_dtypes.bfloat16)
    return arr


# ---------------------------------------------------------------------------- checks
def check_program(prog, values):
    """-> dict with ``ok`` and what was compared."""
    entry, outs = prog.entry, prog()
    if entry["kind"] == "decode":
        want = values[entry["check"]["tokens"]["key"]]
        ids = np.asarray(outs[entry["check"]["ids_output"]])
        start = entry["prompt_bucket"]
        got = ids[:, start:start + want.shape[1]]
        return {"program": entry["name"], "ok": bool(np.array_equal(got, want)),
                "tokens": got.tolist(), "tf_tokens": want.tolist()}
    got = [np.asarray(o) for o in outs[:len(entry["check"]["outputs"])]]
    want = [values[r["key"]] for r in entry["check"]["outputs"]]
    diffs = [float(np.max(np.abs(g.astype(np.float64) - w))) for g, w in zip(got, want)]
    ok = all(np.allclose(g, w, rtol=1e-4, atol=1e-5) for g, w in zip(got, want))
    return {"program": entry["name"], "ok": bool(ok), "outputs": entry["outputs"],
            "values": [g.tolist() for g in got], "tf_values": [w.tolist() for w in want],
            "max_abs_diff": diffs}


# ---------------------------------------------------------------------------- measuring
def timed(fn, repeats):
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t)
    return min(best)


def measure_bandwidth(device, mib):
    """HBM (or RAM) bandwidth in GB/s: a jitted sum (bytes read) and a jitted ``x + 1``
    (bytes read + written) over ``mib`` MiB of float32, best of 5."""
    jax, _ = xla()
    import jax.numpy as jnp

    n = mib * 2 ** 20 // 4
    with jax.default_device(device):
        x = jnp.ones((n,), jnp.float32)
        total = jax.jit(jnp.sum)
        bump = jax.jit(lambda a: a + 1.0)
        total(x).block_until_ready()
        bump(x).block_until_ready()
        t_read = timed(lambda: total(x).block_until_ready(), 5)
        t_copy = timed(lambda: bump(x).block_until_ready(), 5)
    read, copy = 4 * n / t_read / 1e9, 8 * n / t_copy / 1e9
    return {"read_gbs": round(read, 1), "copy_gbs": round(copy, 1),
            "used_gbs": round(max(read, copy), 1), "mib": mib}


def decode_times(generate, batch, new_tokens, repeats):
    """``generate(k)`` runs prefill + k - 1 steps. -> (prefill s, decode tok/s, first s)."""
    m = new_tokens // 2 + 1
    t = time.perf_counter()
    generate(1)
    first = time.perf_counter() - t
    generate(m)
    generate(new_tokens)
    t1 = timed(lambda: generate(1), repeats)
    tm = timed(lambda: generate(m), repeats)
    tn = timed(lambda: generate(new_tokens), repeats)
    tok_s = batch * (new_tokens - m) / (tn - tm) if tn > tm else float("nan")  # noise
    return t1, tok_s, first


def bench_decode_program(prog, args, bandwidth):
    e = prog.entry

    def generate(k):
        prog.set_input("/max_new", k)
        prog.set_input("/stop_step", k)
        outs = prog()
        steps = int(prog.output(outs, "step"))
        if steps != k:
            raise RuntimeError(f"the program ran {steps} steps, not {k}")

    t1, tok_s, first = decode_times(generate, e["batch"], e["new_tokens"], args.repeats)
    return decode_row("tfhf XLA program", e, t1, tok_s, prog.compile_s + first, bandwidth)


def decode_row(backend, e, t1, tok_s, first_s, bandwidth):
    bound = e["batch"] * bandwidth["used_gbs"] * 1e9 / e["bytes_per_step"]["total"]
    ok = tok_s == tok_s  # NaN: t_N <= t_M, timing noise
    return {"kind": "decode", "backend": backend, "model": e["model"], "dtype": e["dtype"],
            "batch": e["batch"], "decode_tok_s": round(tok_s, 1) if ok else None,
            "prefill_ms": round(1000 * t1, 2), "first_call_s": round(first_s, 2),
            "bound_tok_s": round(bound, 1),
            "bound_share": round(tok_s / bound, 3) if ok else None,
            "bytes_per_step_mb": round(e["bytes_per_step"]["total"] / 1e6, 1)}


def train_row(backend, e, step_times, first_s, peak):
    med = statistics.median(step_times)
    tflops = e["flops_per_step"] / med / 1e12
    return {"kind": "train", "backend": backend, "model": e["model"], "dtype": e["policy"],
            "batch": e["batch"], "seq": e["seq"], "step_ms": round(1000 * med, 2),
            "samples_s": round(e["batch"] / med, 1), "first_call_s": round(first_s, 2),
            "tflops": round(tflops, 2),
            "mfu": round(tflops / peak, 3) if peak else None}


def bench_train_program(prog, args, peak):
    t = time.perf_counter()
    prog()
    first = prog.compile_s + time.perf_counter() - t
    times = []
    for _ in range(args.train_steps):
        t = time.perf_counter()
        prog()
        times.append(time.perf_counter() - t)
    return train_row("tfhf XLA program", prog.entry, times, first, peak)


# ---------------------------------------------------------------------------- PyTorch
def torch_rows(e, args, device_kind, bandwidth, peak, budget):
    """Eager and (within the compile budget) torch.compile rows for one program's shapes."""
    import torch

    import gpu_torch_peer as peer

    dev = torch.device("cuda" if device_kind == "gpu" and torch.cuda.is_available() else "cpu")
    rows = []
    for compiled in (False, True):
        name = "PyTorch " + ("static cache + torch.compile" if e["kind"] == "decode"
                             and compiled else "torch.compile" if compiled else "eager")
        if compiled and (not args.torch_compile or budget["left"] <= 0):
            rows.append(skip_row(name, e, "torch.compile skipped (--torch-compile-budget "
                                          "spent or off)"))
            continue
        t0 = time.perf_counter()
        try:
            if e["kind"] == "decode":
                gen = peer.make_decoder(e["config"], e["batch"], e["prompt_bucket"] +
                                        e["new_bucket"], e["dtype"], dev, compiled)
                ids = torch.randint(3, e["config"]["vocab_size"], (e["batch"], e["prompt_len"]),
                                    device=dev)

                def generate(k):
                    gen(ids, k)
                    peer.synchronize(dev)

                t1, tok_s, first = decode_times(generate, e["batch"], e["new_tokens"],
                                                args.repeats)
                rows.append(decode_row(name, e, t1, tok_s, first, bandwidth))
            else:
                step = peer.make_train_step(e["config"], e["batch"], e["seq"], e["policy"],
                                            dev, compiled)
                t = time.perf_counter()
                step()
                peer.synchronize(dev)
                first = time.perf_counter() - t
                times = []
                for _ in range(args.train_steps):
                    t = time.perf_counter()
                    step()
                    peer.synchronize(dev)
                    times.append(time.perf_counter() - t)
                rows.append(train_row(name, e, times, first, peak))
        except Exception as exc:  # noqa: BLE001 - a peer that fails is reported, not fatal
            rows.append(skip_row(name, e, f"{type(exc).__name__}: {exc}"))
        if compiled:
            budget["left"] -= time.perf_counter() - t0
    return rows


def skip_row(backend, e, why):
    return {"kind": e["kind"], "backend": backend, "model": e["model"],
            "dtype": e.get("dtype", e.get("policy")), "batch": e["batch"], "skipped": why[:300]}


# ---------------------------------------------------------------------------- output
def print_table(result):
    print()
    print(f"device: {result['device']}; bandwidth {result.get('bandwidth')}")
    for c in result["check"]:
        print(f"check {c['program']}: {'OK' if c['ok'] else 'MISMATCH'}")
    head = "| backend | model | dtype | batch | decode tok/s | share of HBM bound | prefill ms | first call s |"
    print(head + "\n" + "|---" * 8 + "|")
    for r in result["rows"]:
        if r["kind"] != "decode":
            continue
        if "skipped" in r:
            print(f"| {r['backend']} | {r['model']} | {r['dtype']} | {r['batch']} | "
                  f"skipped: {r['skipped'][:90]} | | | |")
            continue
        share = "" if r["bound_share"] is None else f"{100 * r['bound_share']:.0f}%"
        print(f"| {r['backend']} | {r['model']} | {r['dtype']} | {r['batch']} | "
              f"{r['decode_tok_s']} | {share} | {r['prefill_ms']} | "
              f"{r['first_call_s']} |")
    head = "| backend | model | policy | batch x seq | samples/s | step ms | TFLOP/s | MFU | first call s |"
    print("\n" + head + "\n" + "|---" * 9 + "|")
    for r in result["rows"]:
        if r["kind"] != "train":
            continue
        if "skipped" in r:
            print(f"| {r['backend']} | {r['model']} | {r['dtype']} | {r['batch']} | "
                  f"skipped: {r['skipped'][:90]} | | | | |")
            continue
        mfu = "" if r["mfu"] is None else f"{100 * r['mfu']:.0f}%"
        print(f"| {r['backend']} | {r['model']} | {r['dtype']} | {r['batch']} x {r['seq']} | "
              f"{r['samples_s']} | {r['step_ms']} | {r['tflops']} | {mfu} | "
              f"{r['first_call_s']} |")


def save(result, path):
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w") as fh:
            json.dump(result, fh, indent=1)
        os.replace(path + ".tmp", path)


def pick_device(name):
    jax, _ = xla()
    if name == "cpu":
        return jax.devices("cpu")[0]
    devices = jax.devices()
    if name == "gpu" and devices[0].platform != "gpu":
        raise SystemExit(f"no GPU visible to JAX (devices: {devices})")
    return devices[0]


def peak_for(device, override):
    if override:
        return override
    kind = getattr(device, "device_kind", "")
    return next((v for k, v in PEAK_TFLOPS if k in kind), None) if device.platform == "gpu" \
        else None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--programs", default="gpu_programs", help="folder from gpu_export.py")
    p.add_argument("--device", choices=("auto", "gpu", "cpu"), default="auto")
    p.add_argument("--check-only", action="store_true", help="run the tiny checks only")
    p.add_argument("--only", default="", help="comma-separated substrings: programs to time")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per decode length")
    p.add_argument("--train-steps", type=int, default=10)
    p.add_argument("--bandwidth-mib", type=int, default=2048)
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch peers")
    p.add_argument("--torch-compile", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--torch-compile-budget", type=float, default=240.0,
                   help="seconds of torch.compile rows before the rest are skipped")
    p.add_argument("--time-budget", type=float, default=480.0,
                   help="stop starting new programs after this many seconds")
    p.add_argument("--peak-tflops", type=float, default=0.0, help="dense peak for MFU")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results here (rewritten after every row)")
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    jax, _ = xla()
    with open(os.path.join(args.programs, "manifest.json")) as fh:
        manifest = json.load(fh)
    values = np.load(os.path.join(args.programs, "values.npz"))
    device = pick_device(args.device)
    result = {"device": f"{device.platform}: {getattr(device, 'device_kind', device)}",
              "jax": jax.__version__, "python": platform.python_version(),
              "exported_with": manifest.get("exported_with"), "check": [], "rows": []}
    for entry in manifest["programs"]:
        if "check" in entry:
            prog = Program(args.programs, entry, values, device, args.seed)
            result["check"].append(check_program(prog, values))
            print(f"[check] {entry['name']}: {'OK' if result['check'][-1]['ok'] else 'MISMATCH'}",
                  flush=True)
    save(result, args.json)
    if not args.check_only:
        bench_all(manifest, values, device, args, result, t_start)
    print_table(result)
    save(result, args.json)
    return 0 if all(c["ok"] for c in result["check"]) else 1


def bench_all(manifest, values, device, args, result, t_start):
    result["bandwidth"] = measure_bandwidth(device, args.bandwidth_mib)
    peak = peak_for(device, args.peak_tflops)
    result["peak_tflops"] = peak
    budget = {"left": args.torch_compile_budget}
    only = [s for s in args.only.split(",") if s]
    todo = [e for e in manifest["programs"] if "check" not in e
            and (not only or any(s in e["name"] for s in only))]
    for entry in todo:
        if time.perf_counter() - t_start > args.time_budget:
            result["rows"].append(skip_row("tfhf XLA program", entry, "--time-budget spent"))
            continue
        print(f"[run] {entry['name']}", flush=True)
        try:
            prog = Program(args.programs, entry, values, device, args.seed)
            if entry["kind"] == "decode":
                row = bench_decode_program(prog, args, result["bandwidth"])
            else:
                row = bench_train_program(prog, args, peak)
            del prog
        except Exception as exc:  # noqa: BLE001 - reported in the table
            row = skip_row("tfhf XLA program", entry, f"{type(exc).__name__}: {exc}")
        result["rows"].append(row)
        if not args.no_torch:
            result["rows"] += torch_rows(entry, args, device.platform, result["bandwidth"],
                                         peak, budget)
        save(result, args.json)


if __name__ == "__main__":
    sys.exit(main())
