#!/usr/bin/env python3
"""Spills in the hot loops of compiled kernels: for every function of an object (a .so
POCL kept with POCL_LEAVE_KERNEL_COMPILER_TEMP_FILES=1, or a .o from clang), the
innermost loops that hold FMAs, with their FMA count and the stack loads/stores in them
(spills and reloads: vector moves to or from (%rsp); POCL uses %rbp as a
plain register).

    python3 bench/spills.py OBJECT [FUNCTION-SUBSTRING ...]
"""
import re
import subprocess
import sys


def functions(path):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], capture_output=True, text=True,
                         check=True).stdout
    name, body = None, []
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            if name:
                yield name, body
            name, body = m.group(1), []
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
        if m and name:
            body.append((int(m.group(1), 16), m.group(2)))
    if name:
        yield name, body


def hot_loops(body):
    """(start, end) of innermost backward-branch loops that contain an FMA."""
    loops = []
    for addr, ins in body:
        m = re.match(r"^j\w+\s+([0-9a-f]+)", ins)
        if m and int(m.group(1), 16) <= addr:
            loops.append((int(m.group(1), 16), addr))
    inner = [l for l in loops if not any(o != l and l[0] <= o[0] and o[1] <= l[1] for o in loops)]
    result = []
    for start, end in inner:
        ins = [i for a, i in body if start <= a <= end]
        fma = sum(1 for i in ins if re.match(r"^vfn?madd", i))
        if fma:
            stack = sum(1 for i in ins if re.match(r"^vmov\w*\s", i) and re.search(r"\(%rsp\)", i))
            result.append((start, end, fma, stack))
    return result


def main():
    path, wanted = sys.argv[1], sys.argv[2:]
    for name, body in functions(path):
        if wanted and not any(w in name for w in wanted):
            continue
        for start, end, fma, stack in hot_loops(body):
            print(f"{name:40s} loop {start:#x}-{end:#x}: {fma:3d} FMAs, {stack:3d} stack moves (spills + reloads)")


if __name__ == "__main__":
    main()
