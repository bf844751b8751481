#!/usr/bin/env python3
"""Times two commands as whole processes, interleaved: A B A B ..., and the ratio A/B pair by pair.

    python3 bench/pairs.py -n 10 --vs 'COMMAND_B ARG ...' -- COMMAND_A ARG ...

Why pairs: these machines are shared, and their speed drifts by more than the differences we
measure; two runs started one after the other see nearly the same machine, so the ratio of a
pair keeps its meaning when the absolute times do not. Each run's user and system time and its
peak resident memory are the kernel's own accounting of the reaped child (wait4), the wall time a
monotonic clock around start and reaping. Every figure is printed as min, median and max; quote
the median. Output of the commands is discarded. Standard library only.
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time


def run(cmd):
    """One run of `cmd`: (user s, sys s, wall s, peak MiB, exit status)."""
    start = time.monotonic()
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux.
    return usage.ru_utime, usage.ru_stime, wall, usage.ru_maxrss / 1024, child.returncode


def row(name, values, fmt):
    low, mid, high = min(values), statistics.median(values), max(values)
    print(f"{name:<14}{fmt.format(low):>12}{fmt.format(mid):>12}{fmt.format(high):>12}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=5, help="counted runs of each command (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs of each first (default 1)")
    parser.add_argument("--vs", help="the second command (B), one string split as a shell would")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND_A ARG ...")
    args = parser.parse_args()
    a = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not a or args.runs < 1:
        parser.error("a command (after --) and at least one run are needed")
    commands = {"A": a}
    if args.vs:
        commands["B"] = shlex.split(args.vs)

    for _ in range(args.warmup):
        for cmd in commands.values():
            run(cmd)
    runs = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            runs[name].append(run(cmd))

    print(f"{'':<14}{'min':>12}{'median':>12}{'max':>12}")
    for name, results in runs.items():
        failed = [r[4] for r in results if r[4] != 0]
        if failed:
            print(f"{name}: {len(failed)} of {len(results)} runs failed (exit {failed[0]})", file=sys.stderr)
        row(f"{name} user s", [r[0] for r in results], "{:.3f}")
        row(f"{name} sys s", [r[1] for r in results], "{:.3f}")
        row(f"{name} cpu s", [r[0] + r[1] for r in results], "{:.3f}")
        row(f"{name} wall s", [r[2] for r in results], "{:.3f}")
        row(f"{name} peak MiB", [r[3] for r in results], "{:.1f}")
    if "B" in runs:
        pairs = list(zip(runs["A"], runs["B"]))
        for label, pick in [("user", lambda r: r[0]), ("cpu", lambda r: r[0] + r[1]), ("wall", lambda r: r[2])]:
            ratios = [pick(x) / pick(y) for x, y in pairs if pick(y) > 0]
            if ratios:
                row(f"A/B {label}", ratios, "{:.4f}")
        wins = sum(1 for x, y in pairs if x[2] < y[2])
        print(f"A faster in {wins} of {len(pairs)} pairs (wall)")
    # A forked child starts with this script's pages counted, so a peak is never below what
    # `true` shows: a peak at that floor only says the command stayed under it.
    floor = run(["true"])[3]
    print(f"(a peak at or below {floor:.1f} MiB is this script's floor, not a measurement)")


if __name__ == "__main__":
    main()
