"""Text-to-speech speed: SpeechT5-base-shaped synthesis + HiFi-GAN, tfhf (XLA) vs PyTorch
transformers (eager) on the same CPU, in one run; real-time factor = seconds spent / seconds of
audio produced (lower is faster).

    python scripts/bench_tts.py --json bench_out/tts.json
    python scripts/bench_tts.py --smoke          # a tiny model, one sentence: checks it runs
    python scripts/bench_tts.py --parts          # + the mel loop alone (where the time goes)
    python scripts/bench_tts.py --dtype bfloat16 # tfhf bf16 vs PyTorch bf16 (model.to, autocast)

Models: transformers' default ``SpeechT5Config`` (the shapes of microsoft/speecht5_tts: 12 + 6
layers, hidden 768, 12 heads, FFN 3072, 80 mel bins, speaker embeddings of 512) and default
``SpeechT5HifiGanConfig`` (microsoft/speecht5_hifigan's shapes), random weights from a fixed
seed (no SpeechT5 weights are in the offline assets), saved by PyTorch and loaded by tfhf.

Random weights never predict a sensible stop, so both backends run to a fixed length: the
stop ``threshold`` is 3.0 (above the largest possible sum of ``reduction_factor`` = 2
probabilities) and ``maxlenratio`` (default 8: 4 decoder steps = 8 frames = 128 ms of audio per
input character, about natural speech) ends each sentence; each backend produces exactly the
same number of frames per sentence. Input ids are the characters' codes modulo the vocabulary
(the real tokenizer is character-level too). The pre-net's inference dropout runs on both sides
(as in real use). Each call synthesizes one sentence end to end: encoder, the mel loop, the
post-net and the vocoder.

Timing: each backend's first call per sentence (tfhf: tracing + XLA compilation of the mel loop
per text bucket, tracing of the vocoder's TF graph once) is reported separately; then ``--repeats`` rounds over all sentences, the
backends alternating, and the table gives the median and best RTF per backend.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_encoder import machine  # noqa: E402

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please remember to turn off the lights before you leave the office tonight.",
    "Our meeting starts at nine and we will review the quarterly budget together.",
]
RATE = 16000
# PyTorch's OpenMP threads busy-wait between ops: on a machine shared with other jobs that
# spinning slowed its eager loop ~10x here (tiny model, load ~19); passive waiting is fair to
# both (TensorFlow's own thread pool does not spin). Set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def build(tmp, smoke, dtype="float32"):
    import torch
    import transformers

    torch.manual_seed(0)
    if smoke:
        cfg = transformers.SpeechT5Config(
            hidden_size=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
            speech_decoder_prenet_units=32, speech_decoder_postnet_units=32)
        vcfg = transformers.SpeechT5HifiGanConfig(upsample_initial_channel=32,
                                                  resblock_kernel_sizes=[3],
                                                  resblock_dilation_sizes=[[1, 3]])
    else:
        cfg, vcfg = transformers.SpeechT5Config(), transformers.SpeechT5HifiGanConfig()
    pt = transformers.SpeechT5ForTextToSpeech(cfg).eval()
    voc = transformers.SpeechT5HifiGan(vcfg).eval()
    pt.save_pretrained(os.path.join(tmp, "tts"))
    voc.save_pretrained(os.path.join(tmp, "voc"))
    from tfhf.models.speecht5.hifigan import TFSpeechT5HifiGan
    from tfhf.models.speecht5.modeling import TFSpeechT5ForTextToSpeech

    kw = {} if dtype == "float32" else {"dtype": dtype}
    return (pt, voc, TFSpeechT5ForTextToSpeech.from_pretrained(os.path.join(tmp, "tts"), **kw),
            TFSpeechT5HifiGan.from_pretrained(os.path.join(tmp, "voc"), **kw))


def ids_of(text, vocab):
    import numpy as np

    return np.array([[4 + ord(c) % (vocab - 4) for c in text] + [2]], np.int64)


def make_backends(pt, voc, tfm, tvoc, spk, kw, args):
    """name -> fn(ids) for each timed backend: tfhf (XLA mel loop + the vocoder's TF graph)
    first, then PyTorch eager (float32; or bfloat16 as ``model.to(torch.bfloat16)`` and as
    ``torch.autocast``), then with ``--parts`` the spectrogram alone of each."""
    import copy

    import numpy as np
    import torch

    def tfhf(vocoder):
        return lambda x: np.asarray(tfm.generate_speech(x, spk, vocoder=vocoder, **kw))

    def torch_fn(model, vocoder, autocast=False):
        dtype = next(model.parameters()).dtype
        s = torch.tensor(spk).to(dtype)

        def run(x):
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16,
                                                 enabled=autocast):
                out = model.generate_speech(torch.tensor(x), s, vocoder=vocoder, **kw)
            return out.float().numpy()
        return run

    if args.dtype == "float32":
        torch_models = {"PyTorch eager": (pt, voc, False)}
    else:
        pt16, voc16 = (copy.deepcopy(m).to(torch.bfloat16) for m in (pt, voc))
        torch_models = {"PyTorch eager bf16 (model.to)": (pt16, voc16, False),
                        "PyTorch eager bf16 (autocast)": (pt, voc, True)}
    backends = {"tfhf": tfhf(tvoc)}
    backends.update({name: torch_fn(m, v, a) for name, (m, v, a) in torch_models.items()})
    if args.parts:
        backends["tfhf, spectrogram only"] = tfhf(None)
        backends.update({f"{name}, spectrogram only": torch_fn(m, None, a)
                         for name, (m, v, a) in torch_models.items()})
    return backends


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--maxlenratio", type=float, default=8.0)
    p.add_argument("--sentences", type=int, default=len(SENTENCES))
    p.add_argument("--smoke", action="store_true", help="tiny model, one sentence, one repeat")
    p.add_argument("--parts", action="store_true",
                   help="also time the spectrogram alone (no vocoder) per backend")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                   help="bfloat16: tfhf's weights and compute in bfloat16 (dtype= of "
                        "from_pretrained) against PyTorch in bfloat16, both as model.to("
                        "torch.bfloat16) and as float32 weights under torch.autocast")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if args.smoke:
        args.sentences, args.repeats = 1, 1
    import numpy as np
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    info = {"machine": machine(), "load_average_start": os.getloadavg(), "smoke": args.smoke,
            "maxlenratio": args.maxlenratio, "torch_threads": torch.get_num_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}
    with tempfile.TemporaryDirectory() as tmp:
        pt, voc, tfm, tvoc = build(tmp, args.smoke, args.dtype)
        spk = np.random.RandomState(0).randn(1, pt.config.speaker_embedding_dim)
        spk = spk.astype(np.float32)
        kw = dict(threshold=3.0, maxlenratio=args.maxlenratio)
        texts = SENTENCES[:args.sentences]
        ids = [ids_of(t, pt.config.vocab_size) for t in texts]

        backends = make_backends(pt, voc, tfm, tvoc, spk, kw, args)
        first, times, audio_s = {}, {b: [] for b in backends}, []
        for x in ids:
            for name, fn in backends.items():
                t = time.perf_counter()
                out = fn(x)
                first.setdefault(name, []).append(time.perf_counter() - t)
                if name == "tfhf":
                    audio_s.append(len(out) / RATE)
        for _ in range(args.repeats):
            for name, fn in backends.items():
                t = time.perf_counter()
                for x in ids:
                    fn(x)
                times[name].append(time.perf_counter() - t)
    total_audio = sum(audio_s)
    rows = []
    for name in backends:
        med, best = statistics.median(times[name]), min(times[name])
        rows.append({"backend": name, "median_s": med, "best_s": best,
                     "rtf_median": med / total_audio, "rtf_best": best / total_audio,
                     "first_calls_s": sum(first[name])})
    torch_rows = [r for r in rows if r["backend"].startswith("PyTorch") and "only" not in
                  r["backend"]]
    fastest = min(torch_rows, key=lambda r: r["rtf_median"])
    info.update(rows=rows, audio_s=total_audio, sentences=texts, dtype=args.dtype,
                speedup_median=fastest["rtf_median"] / rows[0]["rtf_median"],
                speedup_against=fastest["backend"], load_average_end=os.getloadavg())
    print(f"\nSpeechT5{' (smoke: tiny)' if args.smoke else '-base-shaped'} + HiFi-GAN, "
          f"{args.dtype}, {len(texts)} sentences, {total_audio:.1f} s of audio per round")
    print("| backend | median s | best s | RTF (median) | RTF (best) | first calls s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['median_s']:.2f} | {r['best_s']:.2f} | "
              f"{r['rtf_median']:.3f} | {r['rtf_best']:.3f} | {r['first_calls_s']:.1f} |")
    print(f"tfhf speed-up (median RTF) against the faster PyTorch ({fastest['backend']}): "
          f"{info['speedup_median']:.2f}x")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(info, f, indent=1)
    print(f"\nload average start {info['load_average_start']}, end {info['load_average_end']}")
    return info


if __name__ == "__main__":
    main()
