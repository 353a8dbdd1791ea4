"""In-graph WordPiece tokenization that gives the Hugging Face fast tokenizer's ids.

:class:`WordPieceEncoder` is a ``tf.Module`` that turns a batch of UTF-8 strings into the
ids a BERT-style ``tokenizers`` tokenizer (``BertNormalizer`` + ``BertPreTokenizer`` +
``WordPiece`` + [CLS]/[SEP] template) produces, inside a SavedModel.

Why not ``tensorflow_text.BertTokenizer`` or ``FastBertTokenizer`` as they are:

* ``FastBertTokenizer`` runs on the ``FastBertNormalize`` / ``FastWordpieceTokenizeWithOffsets``
  ops, which TF Serving builds of the 2.10 era do not register (tensorflow/serving#2064,
  transformers#19528): a model that uses them fails to load there.
* ``BertTokenizer`` normalizes differently from the HF tokenizer: ICU case folding instead
  of lower-casing (``ß`` -> ``ss``), control characters become spaces instead of being
  dropped, its Unicode tables are ICU's/RE2's rather than the ones ``tokenizers`` was built
  with, and it counts the word-length limit in bytes rather than characters.

So the pipeline here uses the same op families ``BertTokenizer`` uses (``NormalizeUTF8``,
``RegexSplitWithOffsets``, ``WordpieceTokenizeWithOffsets`` from tensorflow-text, plus core
TensorFlow string, Unicode, lookup and ragged ops), but every character class is *measured
from the installed ``tokenizers`` library at export time* (one normalizer call over all of
Unicode, well under a second) and written into the graph as codepoint range tables and
regular expressions. The HF steps, in HF's order:

1. invalid UTF-8 (which a Python ``str`` cannot hold) becomes U+FFFD, as
   ``bytes.decode("utf-8", "replace")`` does; with ``clean_text`` U+FFFD is then dropped;
2. special tokens written in the text (``[SEP]``, ``[MASK]``...) are matched on the raw
   text, as the fast tokenizer does;
3. ``clean_text``: drop NUL, U+FFFD and control/format/unassigned characters (per
   ``tokenizers``' tables); map whitespace to a space;
4. ``strip_accents``: NFD (``NormalizeUTF8``) then drop nonspacing marks;
5. ``lowercase``: the per-codepoint lower-case table of ``tokenizers`` (a hash table);
6. split on whitespace, isolate punctuation and CJK ideographs (``RegexSplitWithOffsets``);
7. words longer than ``max_input_chars_per_word`` characters become the unknown token;
   WordPiece (``WordpieceTokenizeWithOffsets``, greedy longest match, whole word -> unknown
   token when a piece is missing);
8. truncate to ``max_length - 2``, add [CLS]/[SEP], pad to the longest row.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from ..errors import MissingDependencyError, UnsupportedModelError

# tensorflow-text ops the graph may use: all registered by the stock TF Serving build.
TF_TEXT_OPS = ("NormalizeUTF8", "RegexSplitWithOffsets", "WordpieceTokenizeWithOffsets")

# how to export without the in-graph tokenizer, for CLI and Python users alike
IDS_ONLY = "`tfhf export ... --no-tokenizer` (Python: export_saved_model(..., tokenizer=None))"
# what a Python process must do before tf.saved_model.load of a string-in SavedModel
PYTHON_LOAD_NOTE = ("in Python, `import tensorflow_text` before `tf.saved_model.load` (it "
                    "registers these ops; TF Serving's model server has them built in)")

_REMOVE, _SPACE = 1, 2
_SURROGATES = range(0xD800, 0xE000)


def tf_text():
    try:
        import tensorflow_text
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "String-in SavedModel signatures need tensorflow-text for in-graph tokenization: "
            "`pip install tensorflow-text` (same minor version as tensorflow), or export the "
            f"ids-only signature: {IDS_ONLY}.") from e
    return tensorflow_text


# ------------------------------------------------------------------ measuring tokenizers
def _all_chars(skip=""):
    return [chr(c) for c in range(0x110000) if c not in _SURROGATES and chr(c) not in skip]


def _segments(normalizer, chars, sep):
    """``normalizer`` applied to ``sep.join(chars)``, split back per character (``sep`` must
    be left alone by the normalizer and never produced by it)."""
    out = normalizer.normalize_str(sep + sep.join(chars) + sep)
    parts = out.split(sep)
    if len(parts) != len(chars) + 2:  # pragma: no cover - a normalizer breaking the probe
        raise UnsupportedModelError("cannot measure this tokenizer's normalizer")
    return parts[1:-1]


def _runs(codepoints):
    """Sorted codepoints -> list of inclusive (start, end) ranges."""
    runs = []
    for c in codepoints:
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return [tuple(r) for r in runs]


def _char_class(runs):
    """RE2 character class for inclusive codepoint ranges."""
    parts = []
    for a, b in runs:
        parts.append(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}")
    return "[" + "".join(parts) + "]"


_TABLES_MEMO = {}


def bert_tables(normalizer_config: dict):
    """:func:`measure_bert_tables`, memoized in memory and in a JSON file under the user
    cache (``$TFHF_CACHE`` or ``~/.cache/tfhf``) keyed by the tokenizers version and the
    normalizer settings: measuring takes a few seconds, reading the file milliseconds."""
    import hashlib

    import tokenizers

    key = json.dumps({"v": 1, "tokenizers": tokenizers.__version__,
                      "normalizer": normalizer_config}, sort_keys=True)
    if key in _TABLES_MEMO:
        return _TABLES_MEMO[key]
    folder = os.environ.get("TFHF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tfhf")
    path = os.path.join(folder, "export",
                        f"bert-tables-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json")
    tables = None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("key") == key:
            tables = data["tables"]
    except (OSError, ValueError, KeyError, AttributeError):
        tables = None
    if tables is None:
        tables = measure_bert_tables(normalizer_config)
        try:  # best effort: an unwritable cache only costs the next export a few seconds
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump({"key": key, "tables": tables}, fh)
            os.replace(tmp, path)
        except OSError:
            pass
    tables = json.loads(json.dumps(tables))  # one shape whether measured or read (lists)
    _TABLES_MEMO[key] = tables
    return tables


def measure_bert_tables(normalizer_config: dict):
    """The character tables of a ``BertNormalizer`` + ``BertPreTokenizer`` as the installed
    ``tokenizers`` library applies them (pure data, JSON-able)."""
    from tokenizers import normalizers, pre_tokenizers

    clean = bool(normalizer_config.get("clean_text", True))
    chinese = bool(normalizer_config.get("handle_chinese_chars", True))
    lower = bool(normalizer_config.get("lowercase", True))
    strip = normalizer_config.get("strip_accents")
    strip = lower if strip is None else bool(strip)

    def only(**kw):
        base = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                    lowercase=False)
        base.update(kw)
        return normalizers.BertNormalizer(**base)

    tables = {"clean_text": clean, "handle_chinese_chars": chinese, "strip_accents": strip,
              "lowercase": lower}
    if clean:
        chars = _all_chars(skip="a")
        segs = _segments(only(clean_text=True), chars, "a")
        remove = [ord(c) for c, s in zip(chars, segs) if s == ""]
        space = [ord(c) for c, s in zip(chars, segs) if s == " " and c != " "]
        odd = [c for c, s in zip(chars, segs) if s not in ("", " ", c)]
        if odd:  # pragma: no cover - a tokenizers release that changes clean_text
            raise UnsupportedModelError(f"unexpected clean_text mapping for {odd[:5]!r}")
        tables["remove"] = _runs(remove)
        tables["space"] = _runs(space)
    if strip:
        chars = _all_chars(skip="0")
        segs = _segments(only(strip_accents=True), chars, "0")
        tables["marks"] = _runs([ord(c) for c, s in zip(chars, segs) if s == ""])
    if lower:
        chars = _all_chars(skip="0")
        segs = _segments(only(lowercase=True), chars, "0")
        single, multi = {}, {}
        for c, s in zip(chars, segs):
            if s != c:
                (single if len(s) == 1 else multi)[ord(c)] = s
        tables["lower"] = sorted((k, ord(v)) for k, v in single.items())
        tables["lower_multi"] = sorted(multi.items())
    if chinese:
        chars = _all_chars(skip="a")
        segs = _segments(only(handle_chinese_chars=True), chars, "a")
        tables["cjk"] = _runs([ord(c) for c, s in zip(chars, segs) if s == f" {c} "])
    # BertPreTokenizer: whitespace splits (and is dropped), punctuation is isolated
    chars = _all_chars(skip="a")
    text = "a" + "a".join(chars) + "a"
    spans = pre_tokenizers.BertPreTokenizer().pre_tokenize_str(text)
    covered = np.zeros(len(text), bool)
    single_spans = set()
    for _, (s, e) in spans:
        covered[s:e] = True
        if e == s + 1:
            single_spans.add(s)
    pos = np.arange(len(chars)) * 2 + 1
    tables["whitespace"] = _runs([ord(chars[i]) for i in range(len(chars)) if not covered[pos[i]]])
    tables["punctuation"] = _runs([ord(chars[i]) for i in range(len(chars))
                                   if covered[pos[i]] and pos[i] in single_spans])
    return tables


# ------------------------------------------------------------------ tokenizer description
class WordPieceSpec:
    """What the in-graph encoder needs from a HF fast tokenizer (validated)."""

    def __init__(self, tokenizer):
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise UnsupportedModelError(
                f"In-graph tokenization needs a fast (tokenizers-backed) tokenizer; got "
                f"{type(tokenizer).__name__}. Export the ids signature only: {IDS_ONLY}.")
        data = json.loads(backend.to_str())
        norm, pre, model = data.get("normalizer"), data.get("pre_tokenizer"), data.get("model")
        kinds = (norm or {}).get("type"), (pre or {}).get("type"), (model or {}).get("type")
        if kinds != ("BertNormalizer", "BertPreTokenizer", "WordPiece"):
            raise UnsupportedModelError(
                "In-graph string tokenization supports BERT-style WordPiece tokenizers "
                "(BertNormalizer + BertPreTokenizer + WordPiece); this tokenizer has "
                f"normalizer={kinds[0]}, pre_tokenizer={kinds[1]}, model={kinds[2]}. "
                f"Export the ids signature only: {IDS_ONLY}.")
        self.normalizer = norm
        self.vocab = model["vocab"]
        self.unk_token = model.get("unk_token", "[UNK]")
        self.prefix = model.get("continuing_subword_prefix", "##")
        self.max_chars = int(model.get("max_input_chars_per_word", 100))
        if self.unk_token not in self.vocab:
            raise UnsupportedModelError(f"The unknown token {self.unk_token!r} is not in the "
                                        "WordPiece vocabulary.")
        ids = sorted(self.vocab.values())
        if ids != list(range(len(ids))):
            raise UnsupportedModelError("The WordPiece vocabulary ids are not 0..n-1.")
        bad = [t for t in self.vocab if "\n" in t or "\r" in t or t == ""]
        if bad:
            raise UnsupportedModelError(f"Vocabulary entries {bad[:3]!r} cannot be written one "
                                        "per line in assets/vocab.txt.")
        # special tokens matched on the raw text (normalized=False added tokens)
        self.special = {}
        for tok in data.get("added_tokens", []):
            if tok.get("normalized", False) or tok.get("lstrip") or tok.get("rstrip") or \
                    tok.get("single_word"):
                raise UnsupportedModelError(
                    f"Added token {tok.get('content')!r} uses options (normalized / lstrip / "
                    "rstrip / single_word) the in-graph tokenizer does not implement; export "
                    f"the ids signature only: {IDS_ONLY}.")
            self.special[tok["content"]] = int(tok["id"])
        self.cls_id, self.sep_id = _template_ids(tokenizer, data.get("post_processor"))
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = int(pad) if pad is not None else 0

    def vocab_lines(self):
        inv = {i: t for t, i in self.vocab.items()}
        return [inv[i] for i in range(len(inv))]


def _template_ids(tokenizer, post):
    """([CLS] id, [SEP] id) of a single-sequence ``[CLS] $A [SEP]`` template."""
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    ok = cls_id is not None and sep_id is not None
    if ok and post:
        probe = tokenizer("a", add_special_tokens=True)["input_ids"]
        bare = tokenizer("a", add_special_tokens=False)["input_ids"]
        ok = probe == [cls_id] + bare + [sep_id]
    if not ok:
        raise UnsupportedModelError(
            "In-graph tokenization supports the single-sequence template [CLS] text [SEP]; "
            f"this tokenizer's post-processor differs. Export the ids signature only: "
            f"{IDS_ONLY}.")
    return int(cls_id), int(sep_id)


# ------------------------------------------------------------------ the graph
def _merge_category_runs(*pairs):
    """Disjoint (runs, value) pairs -> one (boundaries, values) table."""
    events = sorted((a, b, v) for runs, v in pairs for a, b in runs)
    bounds, vals, last = [0], [0], -1
    for a, b, v in events:
        if a <= last:  # pragma: no cover - the measured sets are disjoint
            raise ValueError("overlapping codepoint tables")
        if bounds[-1] == a:
            vals[-1] = v
        else:
            bounds.append(a)
            vals.append(v)
        bounds.append(b + 1)
        vals.append(0)
        last = b
    return bounds, vals


class WordPieceEncoder(tf.Module):
    """``encode(texts)`` -> (input_ids, attention_mask, token_type_ids), int32 [batch, len].

    ``vocab_file`` is tracked as a SavedModel asset (``assets/vocab.txt``).
    """

    def __init__(self, spec: WordPieceSpec, vocab_file: str, max_length: int, tables=None,
                 name=None):
        super().__init__(name=name)
        text = tf_text()
        if max_length < 2:
            raise ValueError("max_length must leave room for [CLS] and [SEP]")
        self.max_length = int(max_length)
        self.cls_id, self.sep_id, self.pad_id = spec.cls_id, spec.sep_id, spec.pad_id
        self.max_chars = spec.max_chars
        self.unk_token = spec.unk_token
        t = tables if tables is not None else bert_tables(spec.normalizer)
        self.steps = {k: t[k] for k in ("clean_text", "strip_accents", "lowercase")}
        self.vocab_asset = tf.saved_model.Asset(vocab_file)
        init = tf.lookup.TextFileInitializer(
            self.vocab_asset, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
        self.vocab_table = tf.lookup.StaticHashTable(init, default_value=-1)
        self.wordpiece = text.WordpieceTokenizer(
            self.vocab_table, suffix_indicator=spec.prefix,
            max_bytes_per_word=4 * self.max_chars + 4, token_out_type=tf.int64,
            unknown_token=spec.unk_token, split_unknown_characters=False)
        if t["clean_text"]:
            b, v = _merge_category_runs((t["remove"], _REMOVE), (t["space"], _SPACE))
            self._clean_bounds = tf.constant(b, tf.int32)
            self._clean_values = tf.constant(v, tf.int32)
        if t["strip_accents"]:
            b, v = _merge_category_runs((t["marks"], 1))
            self._mark_bounds = tf.constant(b, tf.int32)
            self._mark_values = tf.constant(v, tf.int32)
        self._lower_multi = list(t.get("lower_multi", [])) if t["lowercase"] else []
        if t["lowercase"]:
            keys = [k for k, _ in t["lower"]]
            values = [v for _, v in t["lower"]]
            self.lower_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(keys, tf.int32), tf.constant(values, tf.int32)), -1)
        isolate = list(t["punctuation"]) + list(t.get("cjk", []))
        isolate = _runs(sorted({c for a, b in isolate for c in range(a, b + 1)}))
        self._isolate = _char_class(isolate)
        self._delim = f"{_char_class(t['whitespace'])}+|{self._isolate}"
        specials = sorted(spec.special, key=len, reverse=True)  # longest match first
        self._special_pattern = "|".join(_re2_escape(s) for s in specials)
        if specials:
            self.special_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(specials), tf.constant([spec.special[s] for s in specials],
                                                       tf.int64)), -1)

    # -------------------------------------------------------------- pieces
    def _normalize(self, strings):
        """1-D strings -> 1-D normalized strings (steps 3-5)."""
        text = tf_text()
        for src, dst in self._lower_multi:  # multi-codepoint lower-case results (U+0130)
            strings = tf.strings.regex_replace(strings, _re2_escape(chr(src)),
                                               dst.replace("\\", "\\\\"))
        cps = tf.strings.unicode_decode(strings, "UTF-8")
        if self.steps["clean_text"]:
            flat = cps.flat_values
            cat = tf.gather(self._clean_values,
                            tf.searchsorted(self._clean_bounds, flat, side="right") - 1)
            flat = tf.where(cat == _SPACE, tf.constant(32, tf.int32), flat)
            cps = tf.ragged.boolean_mask(cps.with_flat_values(flat),
                                         cps.with_flat_values(cat != _REMOVE))
        if self.steps["strip_accents"]:
            strings = text.normalize_utf8(tf.strings.unicode_encode(cps, "UTF-8"), "NFD")
            cps = tf.strings.unicode_decode(strings, "UTF-8")
            flat = cps.flat_values
            mark = tf.gather(self._mark_values,
                             tf.searchsorted(self._mark_bounds, flat, side="right") - 1)
            cps = tf.ragged.boolean_mask(cps, cps.with_flat_values(mark == 0))
        if self.steps["lowercase"]:
            flat = cps.flat_values
            low = self.lower_table.lookup(flat)
            cps = cps.with_flat_values(tf.where(low >= 0, low, flat))
        return tf.strings.unicode_encode(cps, "UTF-8")

    def _piece_ids(self, pieces):
        """1-D strings (no special tokens inside) -> ragged [pieces, ids] (steps 3-7)."""
        text = tf_text()
        normalized = self._normalize(pieces)
        words, _, _ = text.regex_split_with_offsets(normalized, self._delim, self._isolate)
        values = words.flat_values
        too_long = tf.strings.length(values, unit="UTF8_CHAR") > self.max_chars
        values = tf.where(too_long, tf.constant(self.unk_token), values)
        wp = self.wordpiece.tokenize(values)  # [words, pieces]
        ids = words.with_flat_values(wp)  # [pieces, words, wordpieces]
        return ids.merge_dims(1, 2)

    def token_ids(self, texts):
        """1-D strings -> ragged int64 [batch, ids] without [CLS]/[SEP] (no truncation)."""
        text = tf_text()
        texts = tf.convert_to_tensor(texts, tf.string)
        texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace",
                                             replacement_char=0xFFFD)
        # RegexSplitWithOffsets and NormalizeUTF8 stop at NUL; clean_text drops NUL and
        # U+FFFD alike, so NUL -> U+FFFD changes nothing else
        texts = tf.strings.regex_replace(texts, "\\x00", "\ufffd")
        if not self._special_pattern:
            return self._piece_ids(texts)
        pieces, _, _ = text.regex_split_with_offsets(texts, self._special_pattern,
                                                     self._special_pattern)
        flat = pieces.flat_values
        special_id = self.special_table.lookup(flat)
        is_special = special_id >= 0
        ids = self._piece_ids(flat)  # [pieces, ids]
        # a special piece's row becomes [its id]; the other rows keep their WordPiece ids
        lengths = ids.row_lengths()
        keep = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(ids.values, tf.repeat(~is_special, lengths)),
            tf.where(is_special, tf.zeros_like(lengths), lengths))
        singles = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(special_id, is_special), tf.cast(is_special, tf.int64))
        ids = tf.concat([keep, singles], axis=1)
        return pieces.with_flat_values(ids).merge_dims(1, 2)

    def encode(self, texts, max_length=None):
        """1-D strings -> dense int32 (input_ids, attention_mask, token_type_ids)."""
        max_length = self.max_length if max_length is None else max_length
        ids = self.token_ids(texts)[:, : max_length - 2]
        batch = ids.nrows()
        cls = tf.fill([batch, 1], tf.constant(self.cls_id, tf.int64))
        sep = tf.fill([batch, 1], tf.constant(self.sep_id, tf.int64))
        ids = tf.concat([cls, ids, sep], axis=1)
        input_ids = tf.cast(ids.to_tensor(default_value=self.pad_id), tf.int32)
        mask = tf.cast(tf.ones_like(ids, tf.int32).to_tensor(default_value=0), tf.int32)
        return input_ids, mask, tf.zeros_like(input_ids)


def _re2_escape(s):
    return "".join(c if c.isalnum() and ord(c) < 128 else f"\\x{{{ord(c):x}}}" for c in s)


def write_vocab(spec: WordPieceSpec, folder: str) -> str:
    path = os.path.join(folder, "vocab.txt")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(spec.vocab_lines()) + "\n")
    return path
