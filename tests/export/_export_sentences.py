"""1,000 deterministic, deliberately awkward test inputs for the in-graph tokenizer.

Each item is ``bytes`` (what a client may send to TF Serving, invalid UTF-8 included);
``as_text`` gives the Python ``str`` the HF tokenizer sees (``errors="replace"``).
"""

from __future__ import annotations

import random

WORDS = ("the a film great dull movie acting was not bad at all plot twist ending actors "
         "director unbelievably wonderful tokenization preprocessing international "
         "characters running jumped quickly extraordinary misunderstanding antidisestablishment"
         ).split()
ACCENTED = ["café", "naïve", "résumé", "Übermensch", "Ångström", "façade", "jalapeño",
            "crème brûlée", "São Paulo", "Zürich", "Dvořák", "Łódź", "ÉCOLE", "niño", "ñandú",
            "e\u0301", "a\u0308\u0304", "Ǆ", "ǅ", "ǆ"]
SCRIPTS = ["中文字符", "日本語のテキスト", "漢字かなカナ", "한국어 문장", "ไทย ภาษา", "العربية",
           "עברית", "हिन्दी भाषा", "русский ТЕКСТ", "ΟΔΟΣ Σίσυφος ΣΑΣ", "İstanbul ılık",
           "Straße STRASSE ẞ", "ﬁnancial ﬂow", "ＦＵＬＬ ｗｉｄｔｈ １２３", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝",
           "Ꭰꭰ Cherokee", "ǈ ǉ", "Ⅻ ⅻ", "ⓐⒶ", "㍿ ㌀", "\U00020000\U0002a6d6", "\uf900\ufa0e"]
EMOJI = ["😀", "🥺", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "❤️", "🫠", "🧑🏿\u200d🚀", "☕",
         "\U0001faf8", "\U0001f9ff"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + [
    "“", "”", "«", "»", "—", "…", "¿", "¡", "、", "。", "「", "」", "‽", "§", "¶", "€", "©",
    "±", "∑", "½", "°", "•", "※", "〜", "﹏", "＂", "‐", "‑", "−"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85",
           "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\ufeff", "\u2028", "\u2029",
           "\u00ad", "\u061c", "\ue000", "\U000f0000", "\u0378", "\uffff", "\ufffd",
           "\U000e0001"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\u202f", "\u1680"]
SPECIAL = ["[SEP]", "[CLS]", "[MASK]", "[UNK]", "[PAD]", "[sep]", "[ SEP ]", "[SEP][CLS]",
           "x[MASK]y", "[[SEP]]"]
MISC = ["https://example.com/path?q=1&x=y", "user@example.org", "3.14159", "1,000,000",
        "C++", "e.g.", "U.S.A.", "don't", "O'Neill", "#hashtag", "@mention", "$100", "100%",
        "2024-01-01", "12:30", "a/b\\c", "<html>", "&amp;"]
INVALID = [b"\xff", b"\xfe", b"\xc3", b"\xe4\xb8", b"\xc0\xaf", b"\xed\xa0\x80",
           b"\xf8\x88\x80\x80\x80", b"\x80", b"\xf0\x9f\x98", b"\xf4\x90\x80\x80"]


def _fragment(r: random.Random):
    kind = r.random()
    if kind < 0.30:
        w = r.choice(WORDS)
        return w.upper() if r.random() < 0.15 else w.capitalize() if r.random() < 0.2 else w
    if kind < 0.42:
        return r.choice(ACCENTED)
    if kind < 0.54:
        return r.choice(SCRIPTS)
    if kind < 0.62:
        return r.choice(EMOJI)
    if kind < 0.74:
        return "".join(r.choice(PUNCT) for _ in range(r.randint(1, 3)))
    if kind < 0.82:
        return r.choice(CONTROL)
    if kind < 0.88:
        return r.choice(SPECIAL)
    if kind < 0.95:
        return r.choice(MISC)
    return "".join(chr(r.randint(0x20, 0x2FFF)) for _ in range(r.randint(1, 4)))


def sentences(n=1000, seed=20240601):
    """``n`` byte strings: mixed fragments, plus fixed edge cases at the front."""
    r = random.Random(seed)
    fixed = [b"", b" ", b"\t\n", "a great film".encode(), "A GREAT FILM!!!".encode(),
             ("x" * 100).encode(), ("x" * 101).encode(), ("é" * 100).encode(),
             ("é" * 101).encode(), ("supercalifragilistic" * 6).encode(),
             " ".join(r.choice(WORDS) for _ in range(2000)).encode(),  # very long input
             ("中" * 700).encode(), b"\xff\xfe\xfd", b"ok\x00zero", "[SEP]".encode(),
             "\x00[SEP]\x00".encode(), "İ".encode(), "ǅungla".encode()]
    out = list(fixed)
    while len(out) < n:
        parts = [_fragment(r) for _ in range(r.randint(1, 14))]
        text = "".join(p + (r.choice(SPACES) if r.random() < 0.75 else "") for p in parts)
        if r.random() < 0.05:
            text = text * r.randint(20, 60)  # long inputs, truncated by max_length
        data = text.encode("utf-8")
        if r.random() < 0.12:  # splice invalid UTF-8 bytes in
            pos = r.randint(0, len(data))
            data = data[:pos] + r.choice(INVALID) + data[pos:]
        out.append(data)
    return out[:n]


def as_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
