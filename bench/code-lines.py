#!/usr/bin/env python3
"""The code one echo runs, in 64-byte lines: what must fit in the instruction cache.

    CALLGRIND_OPTS=--dump-instr=yes CALLGRIND_KEEP=1 bash bench/callgrind-many.sh BIN SERVER
    python3 bench/code-lines.py DIR [TOP]

DIR holds the two profiles callgrind-many.sh kept (out.2000 and out.12000, the same server
after 2 000 and 12 000 echoes). An instruction belongs to an echo's code if it ran at least
once per echo between the two (the difference over 10 000 is >= 0.5). Prints the distinct
lines, how many of the 64 sets of a 32 KiB 8-way cache (this machine's L1i) hold more than
8 of them (each such set misses on every echo once the loop cycles), and the lines by
function. BENCHMARKS.md, "Many connections", session 11.
"""

import collections
import re
import sys


def parse(path):
    """Instructions run, by address, and the function of each address."""
    counts, function = collections.Counter(), {}
    names, fn, last, positions, after_call = {}, None, [], [], False
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("positions:"):
            positions = line.split()[1:]
            last = [0] * len(positions)
            continue
        m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3)
            if m.group(1) == "fn":
                fn = names.get(m.group(2), m.group(2))
            continue
        if line.startswith("calls="):
            after_call = True  # the next cost line is the call's inclusive cost
            continue
        if not line or not (line[0].isdigit() or line[0] in "+-*"):
            continue
        parts = line.split()
        for i, p in enumerate(parts[: len(positions)]):
            if p == "*":
                continue
            if p[0] in "+-":
                last[i] += int(p, 0)
            else:
                last[i] = int(p, 0)
        if after_call:
            after_call = False
            continue
        if len(parts) > len(positions):
            counts[last[0]] += int(parts[len(positions)])
            function[last[0]] = fn
    return counts, function


def main():
    directory = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    before, _ = parse(f"{directory}/out.2000")
    after, function = parse(f"{directory}/out.12000")
    lines_of = collections.defaultdict(set)
    for address, count in after.items():
        if (count - before.get(address, 0)) / 10_000 >= 0.5:
            lines_of[re.sub(r"\s*\[.*\]$", "", function[address] or "?")].add(address // 64)
    lines = set().union(*lines_of.values()) if lines_of else set()
    sets = collections.Counter(line % 64 for line in lines)
    print(f"{len(lines)} lines of code per echo ({len(lines) * 64} bytes); "
          f"{sum(1 for n in sets.values() if n > 8)} of 64 sets over 8 ways")
    for name, held in sorted(lines_of.items(), key=lambda kv: -len(kv[1]))[:top]:
        print(f"{len(held):5d}  {name[:150]}")


if __name__ == "__main__":
    main()
