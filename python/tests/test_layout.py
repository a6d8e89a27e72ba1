"""The ctypes declarations against clmlp.h, compiled with the system's C compiler:
every structure's size, every field's offset and size, every enum constant, and every
function of the header bound with its number of parameters."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Tuple

import pytest

import clmlp
from clmlp import _lib

REPO_HEADER = Path(__file__).resolve().parents[2] / "include" / "clmlp.h"
HEADER = Path(clmlp.get_include()) / "clmlp.h"


def _compiler() -> str:
    for cc in (os.environ.get("CC", ""), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    pytest.skip("no C compiler")
    raise AssertionError


def _c_layout(tmp_path: Path) -> Dict[Tuple[str, str], Tuple[int, int]]:
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <clmlp.h>", "int main(void) {"]
    for s in _lib.STRUCTURES:
        t = s.__name__
        lines.append(f'printf("{t} * %zu %zu\\n", (size_t)0, sizeof({t}));')
        for name, _ in s._fields_:
            lines.append(
                f'printf("{t} {name} %zu %zu\\n", offsetof({t}, {name}), sizeof((({t} *)0)->{name}));'
            )
    for name in _lib.ENUM_CONSTANTS:
        lines.append(f'printf("enum {name} %lld %zu\\n", (long long){name}, sizeof({name}));')
    lines.append('printf("enum clmlp_status %d %zu\\n", 0, sizeof(clmlp_status));')
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run(
        [_compiler(), "-std=c11", "-Wall", "-Werror", "-I", clmlp.get_include(), str(src), "-o", str(exe)],
        check=True,
        capture_output=True,
        text=True,
    )
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    table = {}
    for line in out.splitlines():
        kind, name, a, b = line.split()
        table[(kind, name)] = (int(a), int(b))
    return table


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory: pytest.TempPathFactory) -> Dict[Tuple[str, str], Tuple[int, int]]:
    return _c_layout(tmp_path_factory.mktemp("layout"))


def test_installed_header_is_the_repositorys() -> None:
    if not REPO_HEADER.exists():
        pytest.skip("not run from a checkout")
    assert HEADER.read_text() == REPO_HEADER.read_text(), "the installed package is stale: reinstall ./python"


@pytest.mark.parametrize("struct", _lib.STRUCTURES, ids=lambda s: s.__name__)
def test_structure_layout(struct: type, c_layout: Dict[Tuple[str, str], Tuple[int, int]]) -> None:
    t = struct.__name__
    assert ctypes.sizeof(struct) == c_layout[(t, "*")][1], f"sizeof({t})"
    c_fields = [k[1] for k in c_layout if k[0] == t and k[1] != "*"]
    assert c_fields == [name for name, _ in struct._fields_]
    for name, _ in struct._fields_:
        field = getattr(struct, name)
        assert (field.offset, field.size) == c_layout[(t, name)], f"{t}.{name}: (offset, size)"


def test_header_fields_are_all_mapped() -> None:
    """Each structure's fields in the header, in order, are those of its ctypes twin
    (a field added to clmlp.h without the binding fails here, not in memory)."""
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    for s in _lib.STRUCTURES:
        m = re.search(r"typedef struct %s \{(.*?)\} %s;" % (s.__name__, s.__name__), text, flags=re.S)
        assert m, s.__name__
        names = []
        for decl in m.group(1).split(";"):
            decl = decl.strip()
            if not decl:
                continue
            fn = re.search(r"\(\s*\*\s*(\w+)\s*\)", decl)
            if fn:  # a function pointer
                names.append(fn.group(1))
                continue
            for part in decl.split(","):
                names.append(re.findall(r"(\w+)\s*(?:\[\w+\])?\s*$", part.strip())[0])
        assert names == [n for n, _ in s._fields_], s.__name__


def test_enum_constants(c_layout: Dict[Tuple[str, str], Tuple[int, int]]) -> None:
    for name, value in _lib.ENUM_CONSTANTS.items():
        assert c_layout[("enum", name)] == (value, ctypes.sizeof(_lib.c_enum)), name
    assert c_layout[("enum", "clmlp_status")][1] == ctypes.sizeof(_lib.c_enum)


def test_every_function_is_bound_with_its_parameter_count() -> None:
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    declared = {}
    for m in re.finditer(r"CLMLP_API\s+[^;(]*?\b(clmlp_\w+)\s*\(([^;]*)\)\s*;", text, flags=re.S):
        params = m.group(2).strip()
        declared[m.group(1)] = 0 if params in ("", "void") else params.count(",") + 1
    assert len(declared) > 50
    bound = {name: len(args) for name, (_, args) in _lib._PROTOTYPES.items()}
    assert bound == declared


def test_the_package_loads_its_own_library() -> None:
    assert Path(_lib._library_path()).parent == Path(clmlp.__file__).resolve().parent or "CLMLP_LIBRARY" in os.environ
    assert isinstance(_lib.lib, ctypes.CDLL) and not isinstance(_lib.lib, ctypes.PyDLL)  # the GIL is released


def test_version() -> None:
    from importlib.metadata import version

    assert re.fullmatch(r"\d+\.\d+\.\d+", clmlp.version())
    assert clmlp.__version__ == clmlp.version() == version("clmlp")
    m = re.search(r'#define CLMLP_VERSION_STRING "([^"]+)"', (Path(clmlp.get_include()) / "clmlp_version.h").read_text())
    assert m and m.group(1) == clmlp.version()


def test_library_dependencies() -> None:
    """The package's library needs OpenCL, CLBlast and zlib from the system, never MPI,
    and carries no RPATH into a build tree."""
    readelf = shutil.which("readelf")
    if not readelf:
        pytest.skip("no readelf")
    out = subprocess.run([readelf, "-d", str(_lib._library_path())], check=True, capture_output=True, text=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    assert any(n.startswith("libOpenCL") for n in needed), needed
    assert not any("mpi" in n for n in needed), needed
    assert "RPATH" not in out and "RUNPATH" not in out
