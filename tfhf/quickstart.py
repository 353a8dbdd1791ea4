"""``tfhf quickstart``: fine-tune all-MiniLM-L6-v2 on the shipped movie-review sentences.

Trains with Keras ``fit`` (progress bar), prints validation accuracy, saves with
``save_pretrained``, reloads and classifies a few sentences.
"""

from __future__ import annotations

import os
import time

DATA = os.path.join(os.path.dirname(__file__), "data", "files", "movie_reviews.csv")
EXAMPLES = ["A gorgeous, moving film with a terrific cast.",
            "Dull, overlong and painfully unfunny.",
            "The plot is thin but the performances carry it.",
            "I want those two hours of my life back."]


def run(epochs=1, batch_size=32, output="tfhf-quickstart-model", max_train_samples=None,
        verbose=1, overwrite=True, mixed_precision=None):
    from . import assets
    from .training.text_classification import classify, train_text_classifier

    model = assets.path("minilm")
    t0 = time.perf_counter()
    res = train_text_classifier(model, DATA, output, text_column="text", label_column="label",
                                epochs=epochs, batch_size=batch_size,
                                max_train_samples=max_train_samples, verbose=verbose,
                                overwrite=overwrite, mixed_precision=mixed_precision,
                                learning_rate=1e-4)
    print(f"validation accuracy: {res.val_accuracy:.4f}  (training {res.train_seconds:.0f}s, "
          f"total {time.perf_counter() - t0:.0f}s)")
    print(f"saved to {os.path.abspath(output)}")
    labels = {"0": "negative", "1": "positive"}
    for text, pred in zip(EXAMPLES, classify(output, EXAMPLES)):
        print(f"  {labels.get(pred['label'], pred['label']):8s} {pred['score']:.3f}  {text}")
    return res


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="tfhf quickstart",
                                description="Fine-tune all-MiniLM-L6-v2 on movie-review "
                                            "sentences, evaluate, save, reload, classify.")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--output", default="tfhf-quickstart-model")
    p.add_argument("--max-train-samples", type=int, default=None)
    p.add_argument("--mixed-precision", choices=["mixed_bfloat16", "mixed_float16"], default=None)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    run(epochs=args.epochs, batch_size=args.batch_size, output=args.output,
        max_train_samples=args.max_train_samples, verbose=0 if args.quiet else 1,
        mixed_precision=args.mixed_precision)
    return 0
