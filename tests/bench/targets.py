#!/usr/bin/env python3
"""Prints the benchmark's figures against the targets it is held to (README "Tests and measured
figures"), from the JSON files bench.sh wrote. A missing file is reported, not an error: its part
was skipped (BENCH_TIMER=0, BENCH_HALF_RATE=0). Exit 0 always: the figures are the result."""
import json
import os
import sys

out = sys.argv[1]


def load(name):
    try:
        with open(os.path.join(out, name), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def line(what, value, target, met):
    print(f"  {what:<58} {value:>12}  {target:<12} {'met' if met else 'NOT MET'}")


print("\ntargets (2 cores, durable PostgreSQL):")
full = load("results.json")
if full and full["rate_contacts_per_s"] > 0:
    print("  throughput: the main run was open loop (BENCH_RATE): no flat-out figures")
elif full:
    one = [r for r in full["runs"] if r["replicas"] == 1]
    for r in one:
        line("end-to-end tickets/s, 1 replica", f"{r['tickets_e2e_per_s']:.0f}", ">= 5000",
             r["tickets_e2e_per_s"] >= 5000)
        line("store (acknowledged) / PostgreSQL COPY, 1 replica",
             f"{r['ratio_acked_to_baseline']:.3f}", ">= 0.333", r["ratio_acked_to_baseline"] >= 1 / 3)
half = load("half_rate.json")
if half and half["runs"]:
    r = half["runs"][0]
    line(f"ack p99 at {half['rate_contacts_per_s']} contacts/s ({r['tickets_acked_per_s']:.0f} tickets/s)",
         f"{r['ack_ms']['p99']:.1f} ms", "< 50 ms", r["ack_ms"]["p99"] < 50 and r["complete"])
else:
    print("  ack p99 at half rate: not run (BENCH_HALF_RATE=0)")
timer = load("timer.json")
if timer:
    line("timer: rebuild of 1,000,000 open tickets at restart", f"{timer['restart_rebuild_s']:.2f} s",
         "< 10 s", timer["restart_rebuild_s"] < 10 and timer["rebuild_s"] < 10)
    rss = max(timer["peak_rss_kb"].values()) / 1024
    line("timer: peak RSS", f"{rss:.0f} MB", "< 200 MB", rss < 200)
    late = timer["fire_late_ms"]["p99"]
    line("timer: due deadlines fired late, p99", f"{late:.0f} ms", "< 100 ms",
         late < 100 and timer["signals"]["missed"] == 0)
else:
    print("  timer: not run (BENCH_TIMER=0)")
