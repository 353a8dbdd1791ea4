"""Charts for the benchmark scripts' JSON results (one helper for all of them).

``save_chart(result, path)`` draws the chart that fits the result (the kind is read from the
JSON's structure, so a saved file needs no extra label) and writes a small PNG. Used by
``--plot PATH`` of ``bench_generate.py``, ``bench_train.py``, ``bench_serving.py``,
``bench_encoder.py``, ``bench_seq2seq.py`` and by ``plot_benchmarks.py`` for the docs charts.
Needs matplotlib (``pip install matplotlib``); the Agg backend is used (no display).
"""

from __future__ import annotations

import json
import os

TFHF_COLOR, PEER_COLORS = "#1f77b4", ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
BACKEND_NAMES = {"tfhf": "tfhf (XLA)", "torch": "PyTorch eager",
                 "torch-compile": "PyTorch torch.compile", "keras-hub": "keras-hub (XLA)"}
KINDS = ("generate", "train", "encoder", "serving", "seq2seq")


def require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("charts need matplotlib: pip install matplotlib") from None
    return matplotlib


def _pyplot():
    require_matplotlib().use("Agg")
    import matplotlib.pyplot as plt

    return plt


def kind_of(result):
    """Which benchmark wrote ``result`` (a loaded JSON object)."""
    if isinstance(result, dict):
        if "runs" in result:
            return "generate"
        if "results" in result and "info" in result:
            return "train"
        if "forward_ms" in result:
            return "encoder"
        if "rows" in result and "export_s" in result:
            return "serving"
        if "whisper" in result or "generate" in result:
            return "seq2seq"
    raise ValueError("not a JSON result of scripts/bench_{generate,train,encoder,serving,"
                     "seq2seq}.py")


def _color(name, peers):
    if name.lower().startswith("tfhf"):
        return TFHF_COLOR
    if name not in peers:
        peers.append(name)
    return PEER_COLORS[peers.index(name) % len(PEER_COLORS)]


def _label_bars(ax, bars, texts, fontsize=8):
    for bar, text in zip(bars, texts):
        if bar.get_width() >= 0 and bar.get_height() >= 0:
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=fontsize, xytext=(0, 2),
                        textcoords="offset points")


def _num(v):
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _hbars(ax, names, values, marks=None, fmt="{:.1f}", xlabel=""):
    """Horizontal bars (top to bottom in ``names`` order), optional ``marks`` drawn as ticks;
    bars share a colour per framework (the first word of the name)."""
    peers = []
    ys = list(range(len(names)))[::-1]
    ax.barh(ys, values, color=[_color(n.split()[0], peers) for n in names], height=0.6)
    ends = list(values) if marks is None else [max(v, m) for v, m in zip(values, marks)]
    if marks is not None:
        ax.plot(marks, ys, "k|", markersize=14, markeredgewidth=1.5)
    for y, v, end in zip(ys, values, ends):
        ax.annotate(fmt.format(v), (end, y), va="center", fontsize=8, xytext=(4, 0),
                    textcoords="offset points")
    ax.set_yticks(ys)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_xlim(0, max(ends) * 1.15)
    ax.grid(axis="x", alpha=0.3)


def _generate(result, plt):
    runs = [r for r in result["runs"] if "error" not in r]
    batches = sorted({r["batch"] for r in runs})
    dtypes = [d for d in ("float32", "bfloat16") if any(r["dtype"] == d for r in runs)]
    backends = [b for b in ("tfhf", "torch", "torch-compile", "keras-hub")
                if any(r["backend"] == b for r in runs)]
    backends += sorted({r["backend"] for r in runs} - set(backends))
    fig, axes = plt.subplots(1, len(batches), figsize=(4.2 * len(batches), 3.6), squeeze=False)
    width = 0.8 / max(len(backends), 1)
    peers = []
    for ax, batch in zip(axes[0], batches):
        for i, b in enumerate(backends):
            rows = [next((r for r in runs if r["backend"] == b and r["dtype"] == d
                          and r["batch"] == batch), None) for d in dtypes]
            xs = [j - 0.4 + width * (i + 0.5) for j, r in enumerate(rows) if r]
            ys = [r["decode_tok_s"] for r in rows if r]
            bars = ax.bar(xs, ys, width * 0.92, color=_color(b, peers),
                          label=BACKEND_NAMES.get(b, b))
            _label_bars(ax, bars, [f"{_num(r['decode_tok_s'])}\n{100 * r['bound_share']:.0f}%"
                                   for r in rows if r], fontsize=7)
        for j, d in enumerate(dtypes):
            bound = [r["bound_tok_s"] for r in runs if r["dtype"] == d and r["batch"] == batch
                     and r["backend"] in ("tfhf", "torch", "torch-compile", "keras-hub")]
            if bound:
                ax.hlines(max(bound), j - 0.45, j + 0.45, colors="k", linestyles="--",
                          label="bandwidth bound" if j == 0 else None)
                ax.annotate(f"bound {max(bound):.0f}", (j, max(bound)), ha="center",
                            va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(range(len(dtypes)))
        ax.set_xticklabels(dtypes)
        ax.set_title(f"batch {batch}", fontsize=10)
        ax.set_ylabel("decode tokens/s", fontsize=9)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.12)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8,
               frameon=False)
    bw = result.get("bandwidth")
    bw = bw.get("used_gbs") if isinstance(bw, dict) else bw
    fig.suptitle("SmolLM2-135M greedy decode (bar labels: tok/s, share of the bound)"
                 + (f"; bandwidth {bw} GB/s" if isinstance(bw, (int, float)) else ""),
                 fontsize=10)
    return fig


def _train(result, plt):
    rows = [(k, r) for k, r in result["results"].items() if r.get("samples_per_s")]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.3))
    _hbars(ax, [k for k, _ in rows], [r["samples_per_s"] for _, r in rows],
           marks=[r["samples_per_s_best"] for _, r in rows],
           xlabel="samples/s (bar: median step, tick: best step)")
    info = result.get("info", {})
    ax.set_title(f"MiniLM-L6 fine-tuning, batch {info.get('batch', '?')} x "
                 f"{info.get('seq', '?')} tokens", fontsize=10)
    return fig


def _encoder(result, plt):
    fw = result["forward_ms"]
    shape = result.get("shape", {})
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(fw) + 1.3))
    _hbars(ax, list(fw), [v["median"] for v in fw.values()],
           marks=[v["min"] for v in fw.values()], fmt="{:.0f}",
           xlabel="forward ms (bar: median, tick: best), lower is better")
    ax.set_title(f"MiniLM-L6 forward, batch {shape.get('batch', '?')} x "
                 f"{shape.get('seq', '?')} tokens", fontsize=10)
    return fig


def _serving(result, plt):
    rows = sorted(result["rows"],
                  key=lambda r: (not r["backend"].startswith("tfhf"), r["backend"]))
    names = [r["backend"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 0.5 * len(rows) + 1.5), sharey=True)
    _hbars(a, names, [r["p50_ms"] for r in rows], fmt="{:.0f}",
           xlabel="p50 latency, batch 1 (ms), lower is better")
    _hbars(b, names, [r["throughput_texts_per_s"] for r in rows], fmt="{:.0f}",
           xlabel="throughput, batch 32 (texts/s)")
    fig.suptitle("MiniLM-L6 text classifier served", fontsize=10)
    return fig


def _seq2seq(result, plt):
    parts = [p for p in ("whisper", "generate") if result.get(p)]
    fig, axes = plt.subplots(1, len(parts), figsize=(5 * len(parts), 3.3), squeeze=False)
    for ax, part in zip(axes[0], parts):
        if part == "whisper":
            rows = result["whisper"]["rows"]
            _hbars(ax, [r["backend"] for r in rows], [r["rtf_median"] for r in rows],
                   fmt="{:.3f}", xlabel="real-time factor (median), lower is better")
            ax.set_title(f"Whisper tiny.en, {rows[0]['audio_s']:.1f} s of speech", fontsize=10)
            continue
        rows = result["generate"]
        batches = sorted({r["batch"] for r in rows})
        backends = list(dict.fromkeys(r["backend"] for r in rows))
        width, peers = 0.8 / len(backends), []
        for i, b in enumerate(backends):
            sel = [next((r for r in rows if r["backend"] == b and r["batch"] == n), None)
                   for n in batches]
            xs = [j - 0.4 + width * (i + 0.5) for j, r in enumerate(sel) if r]
            bars = ax.bar(xs, [r["tokens_per_s_median"] for r in sel if r], width * 0.92,
                          color=_color(b, peers), label=b)
            _label_bars(ax, bars, [f"{r['tokens_per_s_median']:.0f}" for r in sel if r])
        ax.set_xticks(range(len(batches)))
        ax.set_xticklabels([f"batch {n}" for n in batches])
        ax.set_ylabel("tokens/s (median)", fontsize=9)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.15)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
        ax.grid(axis="y", alpha=0.3)
        ax.set_title("BART-base-sized generate, 128 -> 64 tokens", fontsize=10)
    return fig


_CHARTS = {"generate": _generate, "train": _train, "encoder": _encoder, "serving": _serving,
           "seq2seq": _seq2seq}


def save_chart(result, path, dpi=100):
    """Draw the chart for a benchmark ``result`` (dict or JSON file path) and write ``path``."""
    if isinstance(result, (str, os.PathLike)):
        with open(result, encoding="utf-8") as fh:
            result = json.load(fh)
    plt = _pyplot()
    fig = _CHARTS[kind_of(result)](result, plt)
    fig.tight_layout(rect=(0, 0.07, 1, 1) if fig.legends else None)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp.png"
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
