#!/usr/bin/env python3
"""clmlp side by side with PyTorch and FANN, alternating in one invocation, with the
ratio clmlp/peer of the medians for each workload.

  python3 bench/peers/compare.py [--build build] [--rounds 5] [--quick]

Workloads: (a) minibatch training, 784-256-128-10, batch 128, one Fashion-MNIST epoch,
f32 and f64; (b) per-sample SGD (batch 1) on 576-16-10 (f64) and 784-256-128-10 (f32).
Peers: PyTorch (Debian's python3-torch, OpenBLAS) with 2 threads for minibatches and 1
for batch 1 (their best settings here), OMP_WAIT_POLICY=passive; FANN 2.2 (libfann-dev),
incremental training, for the per-sample workloads (it has no minibatch SGD).

This machine sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which slow a current
OpenBLAS: they are unset for the peer runs only (clmlp does not use OpenBLAS)."""
import argparse, json, os, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_json(cmd, env=None, stream="stdout"):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr[-2000:]))
    text = p.stdout if stream == "stdout" else p.stderr
    return [json.loads(l) for l in text.splitlines() if l.startswith("{")]


def peer_env(threads):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env["OMP_WAIT_POLICY"] = "passive"
    env["OMP_NUM_THREADS"] = str(threads)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="smaller epochs (for CI)")
    a = ap.parse_args()
    bench = os.path.join(a.build, "clmlp_bench")
    fann = {}
    for dtype, lib, define in (("f64", "-ldoublefann", ["-DFANN_DOUBLE"]), ("f32", "-lfloatfann", [])):
        out = os.path.join(a.build, "fann_per_sample_" + dtype)
        subprocess.run(["cc", "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", *define,
                        os.path.join(HERE, "fann_per_sample.c"), "-o", out, lib, "-lz", "-lm"], check=True)
        fann[dtype] = out
    epoch = 12800 if a.quick else 60000
    small_n, big_n = (1000, 250) if a.quick else (6000, 1500)
    torch_py = ["/usr/bin/python3", os.path.join(HERE, "torch_mnist.py"), "--epochs", "1", "--no-eval", "--loss", "mse"]
    workloads = [
        ("minibatch 784-256-128-10 b128", "f32",
         lambda: run_json([bench, "--only", "minibatch", "--runs", "1", "--dtypes", "f32", "--backends", "opencl,host",
                           "--epoch-samples", str(epoch), "--json"], stream="stderr"),
         lambda: run_json(torch_py + ["--batch", "128", "--dtype", "f32", "--threads", "2", "--samples", str(epoch)],
                          env=peer_env(2)), "torch(2 threads)"),
        ("minibatch 784-256-128-10 b128", "f64",
         lambda: run_json([bench, "--only", "minibatch", "--runs", "1", "--dtypes", "f64", "--backends", "opencl,host",
                           "--epoch-samples", str(epoch), "--json"], stream="stderr"),
         lambda: run_json(torch_py + ["--batch", "128", "--dtype", "f64", "--threads", "2", "--samples", str(epoch)],
                          env=peer_env(2)), "torch(2 threads)"),
    ]
    per_sample = lambda: run_json([bench, "--only", "per-sample", "--runs", "1", "--dtypes", "f32,f64",
                                   "--backends", "opencl,host", "--per-sample-samples", str(small_n), "--json"],
                                  stream="stderr")
    results = {}  # (workload, dtype, who) -> [samples/s]

    def add(key, value):
        results.setdefault(key, []).append(value)

    for r in range(a.rounds):
        print("round %d/%d" % (r + 1, a.rounds), file=sys.stderr)
        for name, dtype, ours, theirs, peer in workloads:
            for row in ours():
                add((name, dtype, "clmlp " + row["backend"]), row["median"])
            for row in theirs():
                add((name, dtype, peer), row["samples_per_s"])
        for row in per_sample():
            shape = row["what"].split()[0]
            add(("per-sample " + shape + " b1", row["dtype"], "clmlp " + row["backend"]), row["median"])
        for shape, n, dtype in (("576-16-10", small_n, "f64"), ("784-256-128-10", big_n, "f32"),
                                ("576-16-10", small_n, "f32"), ("784-256-128-10", big_n, "f64")):
            crop = ["--crop", "24"] if shape.startswith("576") else []
            for row in run_json(torch_py + ["--batch", "1", "--dtype", dtype, "--threads", "1", "--samples", str(n),
                                            "--sizes", shape.replace("-", ","), "--lr", "0.01"] + crop,
                                env=peer_env(1)):
                add(("per-sample " + shape + " b1", dtype, "torch(1 thread)"), row["samples_per_s"])
            for row in run_json([fann[dtype], shape.replace("-", ","), str(n), "24" if crop else "0"]):
                add(("per-sample " + shape + " b1", dtype, "fann"), row["samples_per_s"])
        # the machine's FLOP limit, measured in every round
        for row in run_json(["/usr/bin/python3", os.path.join(HERE, "torch_mm.py"), "2"], env=peer_env(2)):
            add(("torch.mm 128x784x256 GFLOP/s", row["dtype"], "torch.mm"), row["gflops"])

    print("\n%-34s %-4s %-18s %12s %12s %12s" % ("workload", "type", "who", "median/s", "min", "max"))
    keys = sorted(results)
    medians = {k: statistics.median(v) for k, v in results.items()}
    for k in keys:
        v = results[k]
        print("%-34s %-4s %-18s %12.0f %12.0f %12.0f" % (k[0], k[1], k[2], medians[k], min(v), max(v)))
    # The machine is shared: its load drifts between rounds. A ratio within one round
    # (clmlp and the peer ran back to back) cancels that drift; their median is printed
    # beside the ratio of the medians.
    print("\nratios clmlp / peer: of the medians, and the median of the %d per-round ratios [min-max]:" % a.rounds)
    for (name, dtype, who) in keys:
        if not who.startswith("clmlp"):
            continue
        for (n2, d2, peer) in keys:
            if n2 == name and d2 == dtype and not peer.startswith("clmlp"):
                ours, theirs = results[(name, dtype, who)], results[(n2, d2, peer)]
                paired = [x / y for x, y in zip(ours, theirs)]
                print("  %-34s %-4s %-14s / %-17s %6.2f  %6.2f [%.2f-%.2f]" % (
                    name, dtype, who, peer, medians[(name, dtype, who)] / medians[(n2, d2, peer)],
                    statistics.median(paired), min(paired), max(paired)))
    flop_per_sample = 2 * (784 * 256 + 256 * 128 + 128 * 10) * 2 + 2 * (256 * 128 + 128 * 10)
    print("\nshare of the machine's FLOP limit (torch.mm GFLOP/s / %.3f MFLOP per sample):" % (flop_per_sample / 1e6))
    for dtype in ("f32", "f64"):
        mm_key = ("torch.mm 128x784x256 GFLOP/s", dtype, "torch.mm")
        mm = medians.get(mm_key)
        for who in ("clmlp opencl", "clmlp host", "torch(2 threads)"):
            key = ("minibatch 784-256-128-10 b128", dtype, who)
            v = medians.get(key)
            if mm and v:
                shares = [100 * x * flop_per_sample / (g * 1e9) for x, g in zip(results[key], results[mm_key])]
                print("  %-4s %-18s %8.0f samples/s = %5.1f%% of %.0f samples/s; per round: median %5.1f%% [%.1f-%.1f]" % (
                    dtype, who, v, 100 * v * flop_per_sample / (mm * 1e9), mm * 1e9 / flop_per_sample,
                    statistics.median(shares), min(shares), max(shares)))
    json.dump({"%s|%s|%s" % k: {"median": medians[k], "min": min(v), "max": max(v), "runs": len(v)}
               for k, v in results.items()}, open(os.path.join(a.build, "peers.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
