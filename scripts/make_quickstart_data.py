"""Derive tfhf/data/files/movie_reviews.csv from the vaderSentiment 3.3.2 source distribution.

    pip download --no-binary :all: --no-deps vadersentiment==3.3.2 -d /tmp/vader
    python scripts/make_quickstart_data.py /tmp/vader/vaderSentiment-3.3.2.tar.gz

Source: additional_resources/hutto_ICWSM_2014.tar.gz ->
hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt (id, mean human rating -4..+4, sentence).
Label: 1 (positive) when the mean rating is > 0, else 0. MIT licence (C.J. Hutto), kept beside
the file as LICENSE-vaderSentiment.txt.
"""

import csv
import io
import os
import sys
import tarfile

OUT = os.path.join(os.path.dirname(__file__), "..", "tfhf", "data", "files")


def main(sdist):
    with tarfile.open(sdist) as outer:
        inner_member = next(m for m in outer.getmembers()
                            if m.name.endswith("additional_resources/hutto_ICWSM_2014.tar.gz"))
        licence = outer.extractfile(next(m for m in outer.getmembers()
                                         if m.name.endswith("LICENSE.txt"))).read()
        inner = tarfile.open(fileobj=io.BytesIO(outer.extractfile(inner_member).read()))
        raw = inner.extractfile(next(m for m in inner.getmembers()
                                     if m.name.endswith("movieReviewSnippets_GroundTruth.txt")))
        text = raw.read().decode("utf-8", errors="replace")
    rows = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        rating = float(parts[1])
        sentence = " ".join(parts[2:]).strip().replace("''", '"')
        if sentence:
            rows.append((sentence, int(rating > 0), round(rating, 4)))
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "movie_reviews.csv"), "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label", "rating"])
        w.writerows(rows)
    with open(os.path.join(OUT, "LICENSE-vaderSentiment.txt"), "wb") as fh:
        fh.write(licence)
    print(f"wrote {len(rows)} rows")


if __name__ == "__main__":
    main(sys.argv[1])
