#!/usr/bin/env python3
"""GFLOP/s of torch.mm on the training step's largest product (128x784 @ 784x256), the
machine's practical FLOP limit for the comparison. Prints a JSON line per dtype."""
import json, sys, time
import torch

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
for name, dt in (("f32", torch.float32), ("f64", torch.float64)):
    a, b = torch.randn(128, 784, dtype=dt), torch.randn(784, 256, dtype=dt)
    for _ in range(20):
        torch.mm(a, b)
    best = 0.0
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < 0.3:
            torch.mm(a, b)
            n += 1
        best = max(best, 2 * 128 * 784 * 256 * n / (time.perf_counter() - start) / 1e9)
    print(json.dumps({"peer": "torch.mm", "dtype": name, "gflops": best}), flush=True)
