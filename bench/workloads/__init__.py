"""What each benchmark script runs in each library: the workloads, their inputs, and the call
that is timed per library (``ops`` for bench_ops.py, ``image`` for bench_image.py, ...)."""
