"""Draw the benchmark charts from saved JSON results (the docs charts by default).

    python scripts/plot_benchmarks.py                          # docs/data/*.json -> docs/img/
    python scripts/plot_benchmarks.py bench_out/generate.json --out-dir /tmp/charts

Each JSON file is a result written by a bench script's ``--json`` (the kind of benchmark is
read from its structure) and becomes ``bench_<name>.png`` in ``--out-dir``. To refresh the
docs after a rerun: copy the new JSON files over ``docs/data/<kind>.json`` and run this
script without arguments.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _plots import save_chart  # noqa: E402  (the helper beside this script)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", help="JSON results (default: docs/data/*.json)")
    p.add_argument("--out-dir", default=os.path.join(ROOT, "docs", "img"))
    p.add_argument("--dpi", type=int, default=100)
    args = p.parse_args(argv)
    files = args.files or sorted(glob.glob(os.path.join(ROOT, "docs", "data", "*.json")))
    if not files:
        raise SystemExit("no JSON files given and none in docs/data/")
    written = []
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        out = os.path.join(args.out_dir, f"bench_{name}.png")
        save_chart(path, out, dpi=args.dpi)
        print(f"{path} -> {out} ({os.path.getsize(out) // 1024} KB)")
        written.append(out)
    return written


if __name__ == "__main__":
    main()
    sys.exit(0)
