"""First-call cost of each generate mode: how long a user waits before the first token.

In one fresh process, loads SmolLM2-135M-Instruct (the ``smollm2`` asset) and calls
``generate`` on the same chat prompt in the order a `tfhf chat` / tutorial user meets them:
greedy, sampling, streaming (``TextStreamer``), then each again (warm). Prints, per call, the
wall time and the number of XLA compilations it triggered, then a JSON line. Run it once per
checkout to compare two versions (their first calls compile; nothing is shared between
processes):

    tfhf assets install smollm2
    python scripts/bench_first_call.py
    PYTHONPATH=/path/to/other/checkout python scripts/bench_first_call.py --json other.json

``--xla-cache DIR`` turns on the persistent compile cache (``TFHF_XLA_CACHE=DIR``, checkouts
that have it): run twice with the same folder, the second run's first calls load the compiled
loops a previous process saved (an empty folder measures the cold cache's overhead).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TFHF_COMPILE_NOTICE", "0")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--xla-cache", metavar="DIR",
                        help="persistent compile cache folder (default: off)")
    args = parser.parse_args(argv)
    # read by `import tfhf`, before TensorFlow runs anything
    os.environ["TFHF_XLA_CACHE"] = args.xla_cache or "0"

    import tfhf
    from tfhf import assets
    from tfhf.generation import compile_count

    gguf = str(assets.path("smollm2"))  # folder + gguf_file: also what older checkouts read
    folder, name = os.path.split(gguf)
    tok = tfhf.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    t0 = time.perf_counter()
    model = tfhf.TFAutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    load_s = time.perf_counter() - t0
    messages = [{"role": "user", "content": "Give me three tips for learning a new language."}]
    chat = tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True,
                                   return_tensors="tf")
    sink = io.StringIO()

    def streamer():
        streamer = tfhf.TextStreamer(tok, skip_prompt=True)
        streamer.on_finalized_text = lambda text, stream_end=False: sink.write(text)
        return streamer

    modes = {
        "greedy": lambda: model.generate(**chat, max_new_tokens=args.max_new_tokens),
        "sampling": lambda: model.generate(**chat, max_new_tokens=args.max_new_tokens,
                                           do_sample=True, temperature=0.7, top_p=0.9, seed=0),
        "streaming": lambda: model.generate(**chat, max_new_tokens=args.max_new_tokens,
                                            streamer=streamer()),
    }
    rows = []
    for phase in ("first", "warm"):
        for mode, call in modes.items():
            before = compile_count()
            t0 = time.perf_counter()
            call()
            rows.append({"mode": mode, "call": phase, "seconds": time.perf_counter() - t0,
                         "compilations": compile_count() - before})
    total_first = sum(r["seconds"] for r in rows if r["call"] == "first")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; tfhf from {os.path.dirname(tfhf.__file__)}")
    print(f"model load {load_s:.1f} s; first calls in all {total_first:.1f} s")
    print(f"{'mode':<10} {'call':<6} {'seconds':>8} {'compilations':>13}")
    for r in rows:
        print(f"{r['mode']:<10} {r['call']:<6} {r['seconds']:>8.2f} {r['compilations']:>13}")
    result = {"cpu": cpu_name(), "load_seconds": load_s, "first_calls_seconds": total_first,
              "xla_cache": args.xla_cache, "rows": rows}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
