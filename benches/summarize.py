#!/usr/bin/env python3
"""Puts one `cargo bench` run into the tables of BENCHMARKS.md.

    cargo bench                      # looplab and tokio, alternately, in one run
    python3 benches/summarize.py     # the tables, with looplab / tokio ratios

Criterion keeps each benchmark's estimates in target/criterion/<group>/<function>/new/;
the benchmark binaries write what criterion does not keep (bytes per task, lateness,
wall time against the ideal) to target/tmp/looplab-bench/<bench>.json. This script
reads both and prints markdown. It computes nothing but divisions: per element (the
group's throughput) and looplab against its peer in the same group.
"""

import json
import os
import sys

TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "target"))
CRITERION = os.path.join(TARGET, "criterion")
SIDE = os.path.join(TARGET, "tmp", "looplab-bench")

# The peer each group compares looplab against (or the wheel against the heap).
PEERS = [("looplab", "tokio"), ("event_loop", "threads"), ("wheel", "binary_heap")]


def load(path):
    with open(path) as f:
        return json.load(f)


def per_element_ns(group_dir, function):
    new = os.path.join(group_dir, function, "new")
    estimates = load(os.path.join(new, "estimates.json"))
    mean = estimates["mean"]["point_estimate"]
    low = estimates["mean"]["confidence_interval"]["lower_bound"]
    high = estimates["mean"]["confidence_interval"]["upper_bound"]
    throughput = load(os.path.join(new, "benchmark.json")).get("throughput") or {}
    elements = throughput.get("Elements") or throughput.get("Bytes") or 1
    return mean / elements, low / elements, high / elements, elements


def human(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.3f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def criterion_table():
    if not os.path.isdir(CRITERION):
        sys.exit(f"no {CRITERION}: run `cargo bench` first")
    print("| group | function | per element (mean, 95% CI) | elements per iteration | ratio |")
    print("|---|---|---|---|---|")
    for group in sorted(os.listdir(CRITERION)):
        group_dir = os.path.join(CRITERION, group)
        if group == "report" or not os.path.isdir(group_dir):
            continue
        functions = sorted(
            f for f in os.listdir(group_dir)
            if os.path.isfile(os.path.join(group_dir, f, "new", "estimates.json"))
        )
        results = {f: per_element_ns(group_dir, f) for f in functions}
        for function, (mean, low, high, elements) in results.items():
            ratio = ""
            for ours, peer in PEERS:
                if function == ours and peer in results:
                    ratio = f"{mean / results[peer][0]:.2f} × {peer}"
            print(
                f"| {group} | {function} | {human(mean)} ({human(low)} – {human(high)}) "
                f"| {elements:,} | {ratio} |"
            )


def side_table():
    if not os.path.isdir(SIDE):
        return
    print()
    print("| bench | group | function | metric | value |")
    print("|---|---|---|---|---|")
    for name in sorted(os.listdir(SIDE)):
        if not name.endswith(".json"):
            continue
        for row in load(os.path.join(SIDE, name)):
            value = f"{row['value']:,.3f}".rstrip("0").rstrip(".")
            unit = f" {row['unit']}" if row["unit"] else ""
            print(
                f"| {name[:-5]} | {row['group']} | {row['function']} | {row['metric']} "
                f"| {value}{unit} |"
            )


if __name__ == "__main__":
    criterion_table()
    side_table()
