#!/usr/bin/env python3
"""Tests of report.py's repeat handling (standard library only; test.sh runs it)."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402


def run(engine, n, events_per_s, cpu_s=1.0):
    return {"engine": engine, "version": "t", "n": n, "events": 1000, "events_per_s": events_per_s,
            "fills": 10, "wall_s": 1000 / events_per_s, "orders": 20, "cpu_s": cpu_s,
            "events_per_cpu_s": round(1000 / cpu_s)}


class MedianRuns(unittest.TestCase):
    def test_each_engine_keeps_its_median_run_in_first_seen_order(self):
        runs = [run("hftbacktest", 8, 300), run("genesis", 8, 500, cpu_s=2.0),
                run("hftbacktest", 8, 100), run("genesis", 8, 400, cpu_s=4.0),
                run("hftbacktest", 8, 200), run("genesis", 8, 900, cpu_s=8.0)]
        kept = report.median_runs(runs)
        self.assertEqual([(r["engine"], r["events_per_s"]) for r in kept],
                         [("hftbacktest", 200), ("genesis", 500)])
        self.assertEqual(kept[1]["repeats"], 3)
        self.assertEqual(kept[1]["events_per_s_runs"], [500, 400, 900])
        # The median run is kept whole: its own CPU seconds, not another run's.
        self.assertEqual(kept[1]["cpu_s"], 2.0)
        ratio = report.ratios(kept)["race_n8_genesis_over_hftbacktest"]["value"]
        self.assertEqual(ratio, 2.5)

    def test_an_even_count_keeps_the_lower_middle_and_one_run_is_itself(self):
        kept = report.median_runs([run("genesis", 64, 10), run("genesis", 64, 40),
                                   run("genesis", 64, 30), run("genesis", 64, 20),
                                   run("nautilus_trader", 64, 5)])
        self.assertEqual(kept[0]["events_per_s"], 20)
        self.assertEqual(kept[1]["repeats"], 1)
        self.assertEqual(kept[1]["events_per_s_runs"], [5])

    def test_the_markdown_lists_the_repeats(self):
        kept = report.median_runs([run("genesis", 8, 1000), run("genesis", 8, 2000)])
        text = report.markdown({"tape": {"rows": 1, "instruments": [], "seed": 1, "csv_sha256": "0" * 64},
                                "machine": {"cpu_model": "x", "cpus": 2}, "runs": kept,
                                "ratios": {}, "fills_vs_hftbacktest": {}})
        self.assertIn("- genesis, N = 8: 2 runs, events/s 1,000, 2,000", text)


if __name__ == "__main__":
    unittest.main()
