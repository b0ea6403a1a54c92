"""foveal's benchmarks: each ``bench_<area>.py`` times foveal against the peers that are installed,
on the same inputs and with the same number of threads, prints a table and writes JSON.

Run one by path (``python bench/bench_ops.py --quick``) or as a module from the checkout
(``python -m bench.bench_ops``); ``foveal bench`` runs them all. docs/performance.md says what
each measures. The parts they share, one job each:

  environment.py  the thread variables (pinned when the package loads, before NumPy), the
                  machine, the opening lines, the end-of-run noise and load checks
  libraries.py    optional imports: foveal, torch and Keras with the same threads
  cli.py          the options every script takes (--quick, --only, --list, --isa, ...)
  timing.py       warm-up, interleaved repeats (order rotating), best/median, ratios
  checks.py       the comparisons of outputs made before timing
  report.py       number formats, the table, PASS/FAIL lines, the JSON file
  synthetic.py    seeded photo-like images and cached folders of files
  workloads/      what each script runs in each library
"""

from . import environment  # noqa: F401  (first: the thread variables, before NumPy loads)
