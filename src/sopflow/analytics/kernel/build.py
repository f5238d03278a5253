"""Compile the C kernels on first use and load them with ctypes.

Why C through ctypes rather than numba: a funnel over 10M events must answer, process start included,
in about a third of a second, and importing numba alone takes 0.6 s on the 2-core reference machine;
loading a shared library takes a millisecond. The source ships in the package; the library is built
once per machine and source version into ``$SOPFLOW_KERNEL_CACHE`` (default ``~/.cache/sopflow/kernels``,
or a temporary folder when that is not writable), with the first compiler found: ``$CC``, ``cc``, ``gcc``,
``clang``, else the Zig C compiler from the ``ziglang`` package (a dependency, so a machine without a
system compiler still works). Builds go to a temporary name and are renamed into place, so concurrent
processes (Spark's Python workers) never load half a file.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from functools import cache
from pathlib import Path

from sopflow.errors import SopflowError
from sopflow.i18n import _

_HERE = Path(__file__).parent
_FLAGS = ["-O2", "-shared", "-fPIC", "-std=c11"]


class KernelBuildError(SopflowError):
    exit_code = 70


def _cache_dir() -> Path:
    chosen = os.environ.get("SOPFLOW_KERNEL_CACHE")
    candidates = [Path(chosen)] if chosen else []
    candidates += [
        Path.home() / ".cache" / "sopflow" / "kernels",
        Path(tempfile.gettempdir()) / "sopflow-kernels",
    ]
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    raise KernelBuildError(_("no writable folder for compiled kernels; set SOPFLOW_KERNEL_CACHE"))


def _compilers() -> list[list[str]]:
    found: list[list[str]] = []
    if os.environ.get("CC"):
        found.append(os.environ["CC"].split())
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            found.append([path])
    if importlib.util.find_spec("ziglang") is not None:
        found.append([sys.executable, "-m", "ziglang", "cc"])
    return found


def load(name: str) -> ctypes.CDLL:
    """The compiled kernel ``name`` (``name.c`` beside this module), built if needed."""
    return load_source(_HERE / f"{name}.c")


@cache
def load_source(source: Path) -> ctypes.CDLL:
    """The library compiled from the C file ``source`` (any package folder), built if needed."""
    name = source.stem
    # Two checksums from zlib rather than hashlib: importing hashlib loads OpenSSL, milliseconds paid by
    # every command, and 64 bits tell versions of one file apart as well here.
    data = source.read_bytes() + " ".join(_FLAGS).encode()
    digest = f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"
    suffix = ".dll" if sys.platform == "win32" else ".so"
    target = _cache_dir() / f"{name}-{digest}{suffix}"
    if not target.exists():
        _build(source, target)
    return ctypes.CDLL(str(target))


def _build(source: Path, target: Path) -> None:
    errors: list[str] = []
    for compiler in _compilers():
        fd, temporary = tempfile.mkstemp(prefix=target.stem, suffix=target.suffix, dir=target.parent)
        os.close(fd)
        try:
            done = subprocess.run(
                [*compiler, *_FLAGS, "-o", temporary, str(source)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0:
                os.replace(temporary, target)
                return
            errors.append(f"{' '.join(compiler)}: {done.stderr.strip()[:400]}")
        except OSError as exc:
            errors.append(f"{' '.join(compiler)}: {exc}")
        finally:
            Path(temporary).unlink(missing_ok=True)
    raise KernelBuildError(
        _(
            "could not compile the native code {name}: {errors}. Install a C compiler (gcc) or the ziglang package.",
            name=source.name,
            errors="; ".join(errors) or _("no C compiler found"),
        )
    )
