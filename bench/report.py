#!/usr/bin/env python3
"""Runs every wsduplex benchmark for several rounds and prints the ratios against the targets
of BENCHMARKS.md as a markdown table.

    python3 bench/report.py [--rounds 3] [--benches core,seed,echo,echo_pair,memory]
    python3 bench/report.py --rounds 3 --modes 30 [--split]

Each round runs all contenders of every benchmark back to back (criterion, then the memory
bench), so every ratio compares figures measured minutes apart on the same machine; the table
gives the median ratio over the rounds and its range. Machines here are shared and noisy: a
single round can be off by 10-15%.

`--modes N` runs instead the seed exchange N times per contender and round with the `seed-run`
example, which times every run (wall and CPU) alone. Single runs are bimodal when the scheduler
places the threads (BENCHMARKS.md, "Two placements"), and a run's CPU time follows its wall
time: the table gives each contender's 10th percentile (a run the scheduler placed well) next
to its median, CPU ratios at the 10th percentile (costs compared at equal luck), and how many
runs came within 1.25x of the fastest run of any contender in the same round.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRIT = os.path.join(ROOT, "target", "criterion")


def median_ns(bench_id):
    path = os.path.join(CRIT, *bench_id.split("/"), "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def cargo_bench(name):
    cmd = ["cargo", "bench", "-q", "-p", "wsduplex-bench", "--bench", name]
    if name != "memory":
        cmd += ["--", "--noplot"]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    return out.stdout


BENCHES = ["core", "seed", "echo", "echo_pair", "memory"]
ECHO_PAIRS = ["tungstenite", "fastwebsockets", "wsduplex-std", "wsduplex-std-send", "wsduplex-std-feed",
              "wsduplex-smol", "wsduplex-smol-send", "wsduplex-smol-feed"]


def one_round(benches):
    r = {}
    if "core" in benches:
        cargo_bench("core")
        for b in ["decode/memcpy/whole", "decode/memcpy/64KiB-pieces", "decode/wsduplex/server", "decode/wsduplex/server-text",
                  "decode/tungstenite/server", "decode/tungstenite/server-text",
                  "encode/copy+xor/per-message-buffer", "encode/copy+xor/reused-buffer", "encode/wsduplex/client"]:
            r[b] = median_ns(b)
    if "seed" in benches:
        cargo_bench("seed")
        for g in ["seed-wall", "seed-cpu", "seed-wall-split", "seed-cpu-split"]:
            # The split groups need two CPUs; on one, the bench leaves them out.
            if g.endswith("-split") and (os.cpu_count() or 1) < 2:
                continue
            for c in ["raw-tcp", "raw-tcp-masked", "tungstenite", "wsduplex-blocking", "wsduplex-async", "fastwebsockets"]:
                r[f"{g}/{c}"] = median_ns(f"{g}/{c}")
    if "echo" in benches:
        cargo_bench("echo")
        for c in ["raw-tcp", "tungstenite-send", "tungstenite-write", "wsduplex-blocking", "wsduplex-async"]:
            r[f"echo/{c}"] = median_ns(f"echo/{c}")
    if "echo_pair" in benches:
        cargo_bench("echo_pair")
        for g in ["echo-pair-wall", "echo-pair-cpu"]:
            for c in ECHO_PAIRS:
                r[f"{g}/{c}"] = median_ns(f"{g}/{c}")
    if "memory" in benches:
        mem = cargo_bench("memory")
        for role in ["stream-blocking", "stream-async"]:
            m = re.search(rf"memory/{role}: .*peak RSS (\d+) KiB", mem)
            r[f"memory/{role}"] = int(m.group(1)) / 1024.0 if m else float("nan")
        for role in ["idle-async", "idle-tungstenite"]:
            m = re.search(rf"memory/{role}: .* ([\d.]+) KiB each", mem)
            r[f"memory/{role}"] = float(m.group(1)) if m else float("nan")
    return r


def ratios(r):
    """(row, value, target text, met) for one round. Higher-is-better ratios are a/b of speeds.
    Sections whose benchmark was left out of the run are left out."""
    rows = []
    if "decode/wsduplex/server" in r:
        dec = r["decode/wsduplex/server"]
        rows.append(("core decode vs memcpy (128 MiB copy)", r["decode/memcpy/whole"] / dec, ">= 0.5x", lambda v: v >= 0.5))
        rows.append(("core decode vs memcpy in 64 KiB pieces (cache-hot)", r["decode/memcpy/64KiB-pieces"] / dec, "(stricter)", None))
        rows.append(("core decode vs tungstenite decoding the same frames", r["decode/tungstenite/server"] / dec, "(report)", None))
        text = r["decode/wsduplex/server-text"]
        rows.append(("core decode of text (UTF-8 validated) vs memcpy (128 MiB copy)", r["decode/memcpy/whole"] / text, "(report)", None))
        rows.append(("core decode of text vs tungstenite decoding the same frames", r["decode/tungstenite/server-text"] / text, "(report)", None))
        enc = r["encode/wsduplex/client"]
        rows.append(("core encode vs copy + XOR into a fresh buffer per message", r["encode/copy+xor/per-message-buffer"] / enc, "(report)", None))
        rows.append(("core encode vs copy + XOR into one reused buffer (the floor's pass)", r["encode/copy+xor/reused-buffer"] / enc, "(stricter)", None))
    for split, where in [("", "threads placed by the scheduler"), ("-split", "client and server pinned apart")]:
        if f"seed-wall{split}/raw-tcp" not in r:
            continue
        wall, cpu = f"seed-wall{split}", f"seed-cpu{split}"
        rows.append((f"seed throughput, raw TCP + masking (the floor) vs raw TCP, {where}", r[f"{wall}/raw-tcp"] / r[f"{wall}/raw-tcp-masked"], "(reference)", None))
        rows.append((f"seed CPU per GiB, raw TCP + masking vs raw TCP, {where}", r[f"{cpu}/raw-tcp-masked"] / r[f"{cpu}/raw-tcp"], "(reference)", None))
        for t in ["blocking", "async"]:
            w = r[f"{wall}/wsduplex-{t}"]
            rows.append((f"seed throughput, {t}, vs raw TCP, {where}", r[f"{wall}/raw-tcp"] / w, ">= 1.0x", lambda v: v >= 1.0))
            rows.append((f"seed throughput, {t}, vs tungstenite, {where}", r[f"{wall}/tungstenite"] / w, "(report)", None))
            best = min(r[f"{cpu}/raw-tcp"], r[f"{cpu}/tungstenite"])
            rows.append((f"seed CPU per GiB, {t}, vs the better baseline, {where}", r[f"{cpu}/wsduplex-{t}"] / best, "<= 1.05x", lambda v: v <= 1.05))
            rows.append((f"seed throughput, {t}, vs fastwebsockets, {where}", r[f"{wall}/fastwebsockets"] / w, ">= 1.0x", lambda v: v >= 1.0))
            rows.append((f"seed CPU per GiB, {t}, vs fastwebsockets, {where}", r[f"{cpu}/wsduplex-{t}"] / r[f"{cpu}/fastwebsockets"], "<= 1.0x", lambda v: v <= 1.0))
    for t in ["blocking", "async"] if "echo/raw-tcp" in r else []:
        e = r[f"echo/wsduplex-{t}"]
        rows.append((f"echo msgs/s, {t}, vs tungstenite (send)", r["echo/tungstenite-send"] / e, ">= 2x", lambda v: v >= 2.0))
        rows.append((f"echo msgs/s, {t}, vs tungstenite (write, flush at close)", r["echo/tungstenite-write"] / e, "(report)", None))
        rows.append((f"echo msgs/s, {t}, vs raw TCP batched", r["echo/raw-tcp"] / e, "(report)", None))
    for t in ["std", "smol"] if "echo-pair-wall/tungstenite" in r else []:
        w, c = f"echo-pair-wall/wsduplex-{t}", f"echo-pair-cpu/wsduplex-{t}"
        rows.append((f"echo end to end msgs/s, {t}, vs tungstenite", r["echo-pair-wall/tungstenite"] / r[w], ">= 2x", lambda v: v >= 2.0))
        rows.append((f"echo end to end CPU per message, {t}, vs tungstenite", r[c] / r["echo-pair-cpu/tungstenite"], "<= 0.5x", lambda v: v <= 0.5))
        rows.append((f"echo end to end, {t}, send vs feed + flush (time)", r[w] / r[f"{w}-feed"], "<= 1.3x", lambda v: v <= 1.3))
        rows.append((f"echo end to end msgs/s, {t} with send everywhere, vs tungstenite", r["echo-pair-wall/tungstenite"] / r[f"{w}-send"], "(report)", None))
        rows.append((f"echo end to end msgs/s, fastwebsockets vs tungstenite", r["echo-pair-wall/tungstenite"] / r["echo-pair-wall/fastwebsockets"], "(report)", None))
    if "memory/idle-async" not in r:
        return rows
    for t in ["blocking", "async"]:
        rows.append((f"peak RSS, 1 GiB message streamed in, {t} server (MiB)", r[f"memory/stream-{t}"], "<= 8 MiB", lambda v: v <= 8))
    rows.append(("RSS per idle connection, async server, 10 000 conns (KiB)", r["memory/idle-async"], "<= 6 KiB", lambda v: v <= 6))
    rows.append(("RSS per idle connection, tungstenite values, no runtime (KiB)", r["memory/idle-tungstenite"], "(report)", None))
    return rows


SEED_CONTENDERS = ["raw-tcp", "raw-tcp-masked", "tungstenite", "wsduplex-blocking", "wsduplex-async", "fastwebsockets"]
FAST = 1.25


def seed_runs(contender, runs, split):
    """Per-run (wall ms, CPU ms) of `runs` seed exchanges, from `seed-run --each`."""
    exe = os.path.join(ROOT, "target", "release", "examples", "seed-run")
    cmd = [exe, contender, str(runs), "--each"] + (["--split"] if split else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall, cpu = ([float(x) for x in line.split()] for line in out.splitlines()[:2])
    return list(zip(wall, cpu))


def p10(v):
    """The 10th percentile: the cost of a run the scheduler placed well, without the noise of
    the single fastest one."""
    return statistics.quantiles(v, n=10, method="inclusive")[0]


def modes(rounds, runs, split):
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "wsduplex-bench", "--example", "seed-run"],
                   cwd=ROOT, check=True)
    per = {c: [] for c in SEED_CONTENDERS}
    fast = {c: 0 for c in SEED_CONTENDERS}
    for i in range(rounds):
        print(f"round {i + 1}/{rounds} ...", file=sys.stderr)
        got = {c: seed_runs(c, runs, split) for c in SEED_CONTENDERS}
        fastest = min(w for c in got for w, _ in got[c])
        for c in SEED_CONTENDERS:
            per[c] += got[c]
            fast[c] += sum(w <= FAST * fastest for w, _ in got[c])
    wall = {c: [w for w, _ in per[c]] for c in SEED_CONTENDERS}
    cpu = {c: [x for _, x in per[c]] for c in SEED_CONTENDERS}
    base = {k: p10(cpu[k]) for k in ["raw-tcp", "raw-tcp-masked", "tungstenite"]}
    med = statistics.median
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    where = "client and server pinned apart" if split else "threads placed by the scheduler"
    print(f"{rounds} rounds x {runs} runs per contender, {where}, ms per 128 MiB (p10: 10th percentile)\n")
    print("| contender | wall p10 | wall median | CPU p10 | CPU median | CPU p10 vs raw TCP | vs floor | vs tungstenite "
          f"| runs within {FAST}x of the round's fastest |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in SEED_CONTENDERS:
        c10 = p10(cpu[c])
        print(f"| {c} | {p10(wall[c]):.1f} | {med(wall[c]):.1f} | {c10:.1f} | {med(cpu[c]):.1f} | "
              f"{c10 / base['raw-tcp']:.2f}x | {c10 / base['raw-tcp-masked']:.2f}x | {c10 / base['tungstenite']:.2f}x | "
              f"{fast[c]}/{len(per[c])} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--benches", default=",".join(BENCHES), help="comma-separated subset of " + ",".join(BENCHES))
    ap.add_argument("--modes", type=int, metavar="N", help="per-run seed times, N runs per contender and round")
    ap.add_argument("--split", action="store_true", help="with --modes: client and server pinned apart")
    args = ap.parse_args()
    if args.modes:
        return modes(args.rounds, args.modes, args.split)
    benches = args.benches.split(",")
    rounds, figures = [], []
    for i in range(args.rounds):
        print(f"round {i + 1}/{args.rounds} ...", file=sys.stderr)
        figures.append(one_round(benches))
        rounds.append(ratios(figures[-1]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"rounds: {args.rounds}\n")
    print("| measure | median (range) | target | |")
    print("|---|---|---|---|")
    for k in range(len(rounds[0])):
        name, _, target, check = rounds[0][k]
        vals = [r[k][1] for r in rounds]
        med = statistics.median(vals)
        verdict = "" if check is None else ("met" if check(med) else "**missed**")
        print(f"| {name} | {med:.2f} ({min(vals):.2f}-{max(vals):.2f}) | {target} | {verdict} |")
    seed = sorted(k for k in figures[0] if k.startswith("seed-"))
    if seed:
        print("\nseed figures behind the ratios, ms per 128 MiB (criterion's median), one column per round:\n")
        print("| benchmark | " + " | ".join(f"round {i + 1}" for i in range(len(figures))) + " |")
        print("|---|" + "---|" * len(figures))
        for k in seed:
            print(f"| {k} | " + " | ".join(f"{f[k] / 1e6:.1f}" for f in figures) + " |")


if __name__ == "__main__":
    main()
