"""Encoder-decoder speed: Whisper tiny.en real-time factor and seq2seq generate tokens/s, tfhf
vs PyTorch transformers on the same CPU, in one run.

    tfhf assets install whisper-tiny-en
    python scripts/bench_seq2seq.py --json bench_out/seq2seq.json
    python scripts/bench_seq2seq.py --skip-whisper --batches 1 8 --new-tokens 64

Part 1, speech-to-text. The Whisper tiny.en asset (CTranslate2, float16) is converted once
to an HF folder with ``tfhf.models.whisper.convert_ct2_to_hf`` (float32); tfhf and PyTorch
transformers both load that folder. English speech is synthesized with espeak-ng (resampled
to 16 kHz). Each clip is transcribed end to end — log-mel features, greedy ``generate`` (tfhf:
the XLA-compiled loop; PyTorch: ``WhisperForConditionalGeneration.generate``), decoding —
and the real-time factor is (seconds spent) / (seconds of audio): lower is faster. The
transcripts of both are printed and compared.

Part 2, seq2seq generate throughput. A BART-base-sized model (6 + 6 layers, d_model 768,
12 heads, FFN 3072, vocab 50265, random weights from a fixed seed: no BART weights are in the
offline assets) is saved by PyTorch and loaded by tfhf. Inputs: ``--source-len`` random
tokens per row; greedy decoding of exactly ``--new-tokens`` tokens (``min_new_tokens`` ==
``max_new_tokens``, so EOS cannot end a run early); tokens/s = batch x new tokens / wall
time of the whole ``generate`` call (encoder included).

Timing: the first call of each backend (tracing, XLA compilation) is reported separately as
``first call``; then ``--repeats`` calls per backend round-robin, so that load from other
processes falls on every backend alike; the table gives the median and the best.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_encoder import machine  # noqa: E402

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore every summer morning.",
    "Our meeting starts at nine and we will review the quarterly budget together.",
    "Please remember to turn off the lights before you leave the office tonight.",
]


def synthesize(text, tmp, name):
    """espeak-ng speech at 16 kHz (float32 mono)."""
    from tfhf.audio import load_audio

    path = os.path.join(tmp, name + ".wav")
    subprocess.run(["espeak-ng", "-w", path, text], check=True, capture_output=True)
    return load_audio(path, sampling_rate=16000)


def _round_robin(fns, repeats):
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return times


def bench_whisper(args, tmp):
    import numpy as np
    import torch
    import transformers

    from tfhf import assets
    from tfhf.audio import WhisperFeatures
    from tfhf.models.whisper import TFWhisperForConditionalGeneration, convert_ct2_to_hf

    hf_dir = os.path.join(tmp, "whisper-tiny-en")
    convert_ct2_to_hf(assets.path("whisper-tiny-en"), hf_dir)
    tf_model = TFWhisperForConditionalGeneration.from_pretrained(hf_dir)
    pt_model = transformers.WhisperForConditionalGeneration.from_pretrained(hf_dir).eval()
    processor = transformers.WhisperProcessor.from_pretrained(hf_dir)
    tok = processor.tokenizer
    features = WhisperFeatures(feature_size=tf_model.config.num_mel_bins)

    text = " ".join(SENTENCES[: args.sentences])
    audio = synthesize(text, tmp, "speech")
    seconds = len(audio) / 16000.0
    max_new = args.whisper_max_new_tokens

    def run_tfhf():
        feats = features(audio, sampling_rate=16000)["input_features"]
        out = tf_model.generate(input_features=feats, max_new_tokens=max_new)
        return tok.batch_decode(np.asarray(out), skip_special_tokens=True)[0].strip()

    def run_torch():
        feats = processor.feature_extractor(audio, sampling_rate=16000,
                                            return_tensors="pt").input_features
        with torch.no_grad():
            out = pt_model.generate(feats, max_new_tokens=max_new)
        return tok.batch_decode(out, skip_special_tokens=True)[0].strip()

    fns = {"tfhf XLA generate": run_tfhf, "PyTorch transformers eager": run_torch}
    first, texts = {}, {}
    for k, fn in fns.items():
        t = time.perf_counter()
        texts[k] = fn()
        first[k] = time.perf_counter() - t
    times = _round_robin(fns, args.repeats)
    rows = []
    for k in fns:
        med, best = statistics.median(times[k]), min(times[k])
        rows.append({"backend": k, "audio_s": seconds, "median_s": med, "best_s": best,
                     "rtf_median": med / seconds, "rtf_best": best / seconds,
                     "first_call_s": first[k], "transcript": texts[k], "all_s": times[k]})
    return {"reference": text, "rows": rows,
            "same_transcript": len(set(texts.values())) == 1}


def bench_generate(args, tmp):
    import numpy as np
    import torch
    import transformers

    from tfhf import TFAutoModelForSeq2SeqLM

    torch.manual_seed(0)
    cfg = transformers.BartConfig(
        vocab_size=50265, d_model=768, encoder_layers=6, decoder_layers=6,
        encoder_attention_heads=12, decoder_attention_heads=12, encoder_ffn_dim=3072,
        decoder_ffn_dim=3072, max_position_embeddings=1024, forced_bos_token_id=None)
    folder = os.path.join(tmp, "bart-base-random")
    pt_model = transformers.BartForConditionalGeneration(cfg).eval()
    pt_model.save_pretrained(folder)
    tf_model = TFAutoModelForSeq2SeqLM.from_pretrained(folder)
    results = []
    for batch in args.batches:
        rs = np.random.RandomState(batch)
        ids = rs.randint(4, cfg.vocab_size, size=(batch, args.source_len)).astype("int32")
        mask = np.ones_like(ids)
        n = args.new_tokens
        kw = dict(max_new_tokens=n, min_new_tokens=n, num_beams=1, do_sample=False)

        def run_tfhf():
            return np.asarray(tf_model.generate(ids, attention_mask=mask, **kw))

        def run_torch():
            with torch.no_grad():
                return pt_model.generate(torch.tensor(ids, dtype=torch.long),
                                         attention_mask=torch.tensor(mask), **kw).numpy()

        fns = {"tfhf XLA generate": run_tfhf, "PyTorch transformers eager": run_torch}
        first, outs = {}, {}
        for k, fn in fns.items():
            t = time.perf_counter()
            outs[k] = fn()
            first[k] = time.perf_counter() - t
        a, b = outs.values()
        same = a.shape == b.shape and bool((a == b).all())
        times = _round_robin(fns, args.repeats)
        for k in fns:
            med, best = statistics.median(times[k]), min(times[k])
            results.append({"backend": k, "batch": batch, "source_len": args.source_len,
                            "new_tokens": n, "median_s": med, "best_s": best,
                            "tokens_per_s_median": batch * n / med,
                            "tokens_per_s_best": batch * n / best,
                            "first_call_s": first[k], "same_tokens_as_torch": same,
                            "all_s": times[k]})
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads for both frameworks (default: their defaults)")
    p.add_argument("--sentences", type=int, default=3, help="sentences in the speech clip")
    p.add_argument("--whisper-max-new-tokens", type=int, default=96)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--source-len", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--skip-whisper", action="store_true")
    p.add_argument("--skip-generate", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument("--plot", metavar="PATH", help="write a PNG chart of the results here "
                   "(needs matplotlib; see scripts/plot_benchmarks.py)")
    args = p.parse_args(argv)
    if args.plot:  # fails now, not after the run, when matplotlib is missing
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _plots

        _plots.require_matplotlib()

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
            "threads": args.threads or "default", "repeats": args.repeats}
    tmp = tempfile.mkdtemp(prefix="tfhf-bench-s2s-")
    try:
        if not args.skip_whisper:
            if shutil.which("espeak-ng") is None:
                print("espeak-ng not found: skipping the Whisper part (apt install espeak-ng)")
            else:
                info["whisper"] = w = bench_whisper(args, tmp)
                print(f"\nWhisper tiny.en, {w['rows'][0]['audio_s']:.1f} s of espeak-ng speech "
                      f"(greedy, XLA for tfhf)")
                print("| backend | median s | best s | RTF (median) | RTF (best) | first call s |")
                print("|---|---|---|---|---|---|")
                for r in w["rows"]:
                    print(f"| {r['backend']} | {r['median_s']:.2f} | {r['best_s']:.2f} | "
                          f"{r['rtf_median']:.3f} | {r['rtf_best']:.3f} | "
                          f"{r['first_call_s']:.1f} |")
                print(f"reference: {w['reference']}")
                for r in w["rows"]:
                    print(f"{r['backend']}: {r['transcript']}")
                print(f"same transcript: {w['same_transcript']}")
        if not args.skip_generate:
            info["generate"] = g = bench_generate(args, tmp)
            print(f"\nseq2seq generate, BART-base-sized random model, source "
                  f"{args.source_len} tokens, {args.new_tokens} new tokens, greedy")
            print("| backend | batch | median s | tokens/s (median) | tokens/s (best) | "
                  "first call s | same tokens |")
            print("|---|---|---|---|---|---|---|")
            for r in g:
                print(f"| {r['backend']} | {r['batch']} | {r['median_s']:.2f} | "
                      f"{r['tokens_per_s_median']:.1f} | {r['tokens_per_s_best']:.1f} | "
                      f"{r['first_call_s']:.1f} | {r['same_tokens_as_torch']} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["load_average_end"] = os.getloadavg()
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(info, f, indent=1)
    if args.plot:
        print(f"wrote {_plots.save_chart(info, args.plot)}")
    print(f"\nload average start {info['load_average_start']}, end {info['load_average_end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
