#!/usr/bin/env python3
"""Checks that a tutorial quotes its example program faithfully: every ```cpp block of the
Markdown file must appear verbatim (trailing spaces aside) in the source file, so the tutorial
cannot drift from the code CI compiles and runs (the ctest examples.tutorial_quotes_the_example).

Usage: check-tutorial.py TUTORIAL.md EXAMPLE.cpp"""
import re
import sys


def normalise(text):
    return "\n".join(line.rstrip() for line in text.splitlines())


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tutorial, example = (open(p, encoding="utf-8").read() for p in sys.argv[1:])
    blocks = re.findall(r"^```cpp\n(.*?)^```", tutorial, flags=re.S | re.M)
    if not blocks:
        sys.exit(f"FAIL: {sys.argv[1]} has no ```cpp block")
    source = normalise(example)
    missing = [b for b in blocks if normalise(b).strip("\n") not in source]
    for b in missing:
        print(f"FAIL: this block of {sys.argv[1]} is not in {sys.argv[2]}:\n{b}")
    print(f"{len(blocks) - len(missing)} of {len(blocks)} C++ blocks quote {sys.argv[2]} verbatim")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
