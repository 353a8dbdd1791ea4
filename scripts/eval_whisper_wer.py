"""Word error rate of Whisper in tfhf on English speech synthesized with espeak-ng.

    python scripts/eval_whisper_wer.py                      # tiny.en from the offline asset
    python scripts/eval_whisper_wer.py --model /path/to/whisper-folder --num-beams 5
    python scripts/eval_whisper_wer.py --json wer.json --voice en-us --batch-size 4

20 sentences are synthesized with ``espeak-ng -w`` (22.05 kHz WAV), read and resampled by
``tfhf.audio.load_audio`` and transcribed by ``tfhf.pipeline("automatic-speech-recognition")``
(greedy by default). The default model is the ``whisper-tiny-en`` offline asset (CTranslate2
format), converted once to an HF folder in a temporary directory (``tfhf assets install
whisper-tiny-en`` installs it). WER is computed after lower-casing and removing punctuation
(:func:`tfhf.audio.word_error_rate`): per sentence and over all words.

Timing: the first batch includes XLA compilation, reported apart ("warm-up"); the real-time
factor is transcription seconds / audio seconds over the timed pass that follows, which
transcribes every sentence again (a fresh pass over compiled shapes). Prints a table and the
summary; ``--json`` writes everything.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "I would like a cup of coffee with milk and two sugars.",
    "The meeting has been moved to Thursday afternoon at three o'clock.",
    "She sells sea shells by the sea shore.",
    "Our train leaves the station in ten minutes, so we should hurry.",
    "The weather today is sunny with a light breeze from the west.",
    "Can you send me the report before the end of the week?",
    "He opened the window and let the fresh air into the room.",
    "Reading books is a wonderful way to learn about the world.",
    "The children played football in the park until it got dark.",
    "Turn left at the next corner and the museum is on your right.",
    "We need to buy bread, eggs, cheese and apples for breakfast.",
    "The computer restarted after installing the latest updates.",
    "My favourite season is autumn because of the colourful leaves.",
    "The doctor said that I should drink more water every day.",
    "A large dog was sleeping in front of the door.",
    "They watched a movie together on Saturday night.",
    "Music can change the mood of a room in seconds.",
    "The river flows slowly through the green valley.",
]


def synthesize(folder, voice):
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("espeak-ng is not installed (apt-get install espeak-ng).")
    paths = []
    for i, text in enumerate(SENTENCES):
        path = os.path.join(folder, f"s{i:02d}.wav")
        cmd = [espeak, "-w", path] + (["-v", voice] if voice else []) + [text]
        subprocess.run(cmd, check=True, capture_output=True)
        paths.append(path)
    return paths


def model_folder(model, tmp):
    if model:
        return model
    from tfhf import assets
    from tfhf.models.whisper import convert_ct2_to_hf

    if not assets.is_installed("whisper-tiny-en"):
        sys.exit("The whisper-tiny-en asset is not installed: tfhf assets install whisper-tiny-en")
    out = os.path.join(tmp, "whisper-tiny-en-hf")
    convert_ct2_to_hf(assets.path("whisper-tiny-en"), out)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="Whisper folder / repo id (default: the tiny.en asset)")
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--voice", default="", help="espeak-ng voice (default: its default)")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)

    import tfhf
    from tfhf.audio import load_audio, normalize_text, word_error_rate
    from tfhf.audio.wer import word_errors

    with tempfile.TemporaryDirectory(prefix="tfhf-wer-") as tmp:
        paths = synthesize(tmp, args.voice)
        audio = [load_audio(p) for p in paths]
        seconds = sum(len(a) for a in audio) / 16000
        folder = model_folder(args.model, tmp)
        t0 = time.perf_counter()
        pipe = tfhf.pipeline("automatic-speech-recognition", model=folder)
        load_s = time.perf_counter() - t0
        gen = {"num_beams": args.num_beams, "max_new_tokens": args.max_new_tokens}
        t0 = time.perf_counter()
        pipe(audio[:args.batch_size], generate_kwargs=gen, batch_size=args.batch_size)
        warmup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = pipe(audio, generate_kwargs=gen, batch_size=args.batch_size)
        run_s = time.perf_counter() - t0

    texts = [r["text"].strip() for r in results]
    rows = []
    for ref, hyp, a in zip(SENTENCES, texts, audio):
        errors, words = word_errors(ref, hyp)
        rows.append({"reference": ref, "hypothesis": hyp, "errors": errors, "words": words,
                     "wer": errors / max(words, 1), "audio_s": round(len(a) / 16000, 2),
                     "exact": normalize_text(ref) == normalize_text(hyp)})
    summary = {
        "model": args.model or "whisper-tiny-en asset (CTranslate2 -> HF)",
        "sentences": len(rows), "words": sum(r["words"] for r in rows),
        "errors": sum(r["errors"] for r in rows), "wer": word_error_rate(SENTENCES, texts),
        "exact_sentences": sum(r["exact"] for r in rows), "num_beams": args.num_beams,
        "batch_size": args.batch_size, "audio_s": round(seconds, 2),
        "load_s": round(load_s, 2), "warmup_s": round(warmup_s, 2),
        "transcribe_s": round(run_s, 2), "real_time_factor": round(run_s / seconds, 4),
    }

    print(f"{'#':>2}  {'WER':>5}  {'err/words':>9}  hypothesis  (reference)")
    for i, r in enumerate(rows):
        mark = "" if r["exact"] else f"   ({r['reference']})"
        print(f"{i:>2}  {r['wer']:>5.2f}  {r['errors']:>4}/{r['words']:<4}  {r['hypothesis']}"
              f"{mark}")
    print(f"\nWER {summary['wer']:.2%} ({summary['errors']} errors / {summary['words']} words), "
          f"{summary['exact_sentences']}/{len(rows)} sentences exact")
    print(f"audio {seconds:.1f} s, transcribed in {run_s:.2f} s: real-time factor "
          f"{summary['real_time_factor']:.3f} (load {load_s:.1f} s, first batch with "
          f"compilation {warmup_s:.1f} s)")
    out = {"summary": summary, "sentences": rows}
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
