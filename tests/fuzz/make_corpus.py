#!/usr/bin/env python3
"""Writes the seed corpora under corpus/ (committed; rerun only to change them): small
valid, truncated and corrupt inputs for each fuzz target. The model files follow the
format documented in docs/model-file.md (versions 1, 2 and 3), written here
independently of clmlp."""
import gzip, math, os, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(kind, name, data):
    with open(os.path.join(HERE, "corpus", kind, name), "wb") as f:
        f.write(data)


def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


labels = idx(8, [5], bytes([3, 1, 4, 1, 5]))
images = idx(8, [2, 3, 3], bytes(range(18)))
write("idx", "labels.raw", labels)
write("idx", "images.raw", images)
write("idx", "images.gz", gzip.compress(images, mtime=0))
write("idx", "images_truncated.gz", gzip.compress(images, mtime=0)[:-6])
write("idx", "short_data.raw", images[:-1])
write("idx", "trailing.raw", images + b"\0")
write("idx", "huge_dims.raw", idx(8, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b"\1\2\3"))
write("idx", "type_0d.raw", idx(0x0D, [2], b"\0" * 8))


def settings(loss=0, dtype=0):
    # loss, dtype, scale_255, normalize GIVEN, mean, std, crop, target
    return struct.pack("<IIII", loss, dtype, 1, 1) + struct.pack("<dd", 0.25, 0.5) + struct.pack("<QI", 0, 0)


def param_count(sizes):
    return sum(sizes[l] * sizes[l - 1] + sizes[l] for l in range(1, len(sizes)))


def f64s(values):
    return b"".join(struct.pack("<d", v) for v in values)


def with_crc(body):
    return body + struct.pack("<I", zlib.crc32(body))


def head(version, sizes):
    return b"CLMLPNET" + struct.pack("<II", version, len(sizes)) + b"".join(struct.pack("<Q", n) for n in sizes)


def model(sizes, loss=0, dtype=0, weights=None):
    """Version 1: a model."""
    values = weights or [0.1 * math.sin(i + 1) for i in range(param_count(sizes))]
    return with_crc(head(1, sizes) + settings(loss, dtype) + f64s(values))


def checkpoint_v2(sizes, weights, epochs, velocities):
    """Version 2: a model, the epochs done and SGD's velocities."""
    body = head(2, sizes) + settings() + f64s(weights)
    return with_crc(body + struct.pack("<Q", epochs) + f64s(velocities))


def model_v3(sizes, weights, standardization=None, state=None, flags=None):
    """Version 3: flags (1 standardization, 2 training state, 4 Adam's second moments)
    after the settings, the weights, then the sections the flags name.
    standardization: (means, stds); state: (epochs, optimizer, adam_steps, m1, m2 or None)."""
    if flags is None:
        flags = (1 if standardization else 0) | (2 if state else 0) | (4 if state and state[4] else 0)
    body = head(3, sizes) + settings() + struct.pack("<I", flags) + f64s(weights)
    if standardization:
        body += f64s(standardization[0]) + f64s(standardization[1])
    if state:
        epochs, optimizer, steps, m1, m2 = state
        body += struct.pack("<QIQ", epochs, optimizer, steps) + f64s(m1) + (f64s(m2) if m2 else b"")
    return with_crc(body)


write("model", "net_2_3_2.clmlp", model([2, 3, 2]))
write("model", "net_3_2_ce_f32.clmlp", model([3, 2], loss=1, dtype=1))
write("model", "truncated.clmlp", model([2, 3, 2])[:-9])
bad = bytearray(model([2, 3, 2]))
bad[40] ^= 0xFF
write("model", "bad_crc.clmlp", bytes(bad))

# versions 2 and 3 with exactly representable values (test_model_file checks them bit for bit)
W = [(i - 8) / 16 for i in range(17)]
M1 = [(i - 8) / 64 for i in range(17)]
M2 = [(i + 1) / 1024 for i in range(17)]
STD = ([0.5, -0.25], [2.0, 0.125])
write("model", "v2_checkpoint.clmlp", checkpoint_v2([2, 3, 2], W, 2, M1))
write("model", "v3_model.clmlp", model_v3([2, 3, 2], W))
write("model", "v3_std.clmlp", model_v3([2, 3, 2], W, standardization=STD))
write("model", "v3_sgd_checkpoint.clmlp", model_v3([2, 3, 2], W, state=(1, 0, 0, M1, None)))
adam = model_v3([2, 3, 2], W, standardization=STD, state=(3, 1, 15, M1, M2))
write("model", "v3_adam_std.clmlp", adam)
write("model", "v3_adam_truncated.clmlp", adam[:-100])
write("model", "v3_unknown_flags.clmlp", model_v3([2, 3, 2], W, flags=8))
write("model", "v3_flags_lie.clmlp", model_v3([2, 3, 2], W, standardization=STD, flags=0))
write("model", "v3_huge_standardization.clmlp", model_v3([1 << 28, 1, 1], W, flags=1))


def entry(key, binary):
    body = b"CLMLPBIN" + struct.pack("<IQQ", 1, key, len(binary)) + binary
    return body + struct.pack("<I", zlib.crc32(body))


write("cache_entry", "entry.bin", entry(0x1234ABCD5678EF00, b"\x7fELF not really a program binary"))
write("cache_entry", "entry_truncated.bin", entry(7, b"abcdef")[:-3])
write("cache_entry", "entry_long_claim.bin", b"CLMLPBIN" + struct.pack("<IQQ", 1, 7, 1 << 40) + b"xy")
