#!/usr/bin/env python3
"""Writes the seed corpora under corpus/ (committed; rerun only to change them): small
valid, truncated and corrupt inputs for each fuzz target. The model files follow the
format documented in docs/model-file.md, written here independently of clmlp."""
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


def model(sizes, loss=0, dtype=0, weights=None):
    body = b"CLMLPNET" + struct.pack("<II", 1, len(sizes)) + b"".join(struct.pack("<Q", n) for n in sizes)
    body += struct.pack("<IIII", loss, dtype, 1, 1) + struct.pack("<dd", 0.25, 0.5)
    body += struct.pack("<QI", 0, 0)
    count = sum(sizes[l] * sizes[l - 1] + sizes[l] for l in range(1, len(sizes)))
    values = weights or [0.1 * math.sin(i + 1) for i in range(count)]
    body += b"".join(struct.pack("<d", v) for v in values)
    return body + struct.pack("<I", zlib.crc32(body))


write("model", "net_2_3_2.clmlp", model([2, 3, 2]))
write("model", "net_3_2_ce_f32.clmlp", model([3, 2], loss=1, dtype=1))
write("model", "truncated.clmlp", model([2, 3, 2])[:-9])
bad = bytearray(model([2, 3, 2]))
bad[40] ^= 0xFF
write("model", "bad_crc.clmlp", bytes(bad))


def entry(key, binary):
    body = b"CLMLPBIN" + struct.pack("<IQQ", 1, key, len(binary)) + binary
    return body + struct.pack("<I", zlib.crc32(body))


write("cache_entry", "entry.bin", entry(0x1234ABCD5678EF00, b"\x7fELF not really a program binary"))
write("cache_entry", "entry_truncated.bin", entry(7, b"abcdef")[:-3])
write("cache_entry", "entry_long_claim.bin", b"CLMLPBIN" + struct.pack("<IQQ", 1, 7, 1 << 40) + b"xy")
