"""The compiled StatNets block loop (``statnets_block.cpp``), built on first use.

``StatNets.train`` runs each sample block's MINE steps either in Python (one torch call per
operation, the GIL taken between them) or, when this module can build the C++ file next to it,
in one call per block that releases the GIL and fuses the first layer's gradient, Adam update and
next fold into one pass (see the file's header). Building needs a C++ compiler and ``ninja`` on
PATH (torch's ``cpp_extension``); it takes about 20 s once per machine and torch version, and the
library is kept under the uaelab cache (``$UAELAB_CACHE/native``) and imported directly after
that. Without them the Python loop runs, with one warning saying why.

``UAELAB_NATIVE=0`` turns the compiled loop off (the Python loop always), ``UAELAB_NATIVE=1``
makes a failed build an error instead of a warning. ``python -m uaelab.mi.native`` builds it now
and says where it is, or why the Python loop runs.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import logging
import os
import platform
import warnings
from pathlib import Path

import torch

from uaelab.utils import cache_dir

ENV = "UAELAB_NATIVE"
SOURCE = Path(__file__).with_name("statnets_block.cpp")
MAX_H = 64  # the C++ file's kMaxH: widest last hidden layer it takes
DONE = "built.ok"  # in a build folder: the library there is complete (names its file)

log = logging.getLogger(__name__)


def _cflags() -> list[str]:
    flags = ["-O3", "-fno-math-errno", "-fopenmp-simd"]
    if platform.machine() in ("x86_64", "AMD64"):
        # this CPU's widest vectors (AVX-512 where present); GCC's default on AMD Zen 4 would
        # auto-vectorise the Adam loop at 256 bits, measured ~2x slower there
        flags += ["-march=native", "-mprefer-vector-width=512"]
    return flags


def _cpu_signature() -> str:
    """What -march=native compiles for: the build is keyed by it, so a cache shared between
    machines never loads a library built for another CPU."""
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith(("flags", "Features")):
                return line
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=None)
def build_key() -> str:
    h = hashlib.sha256()
    for part in (SOURCE.read_bytes(), torch.__version__.encode(), " ".join(_cflags()).encode(),
                 _cpu_signature().encode()):
        h.update(part)
    return h.hexdigest()[:12]


def mode() -> str:
    """'off', 'auto' (the default: compiled when it builds) or 'require' ($UAELAB_NATIVE)."""
    v = os.environ.get(ENV, "").strip().lower()
    if v in ("0", "off", "false", "no"):
        return "off"
    if v in ("1", "on", "true", "yes", "require"):
        return "require"
    if v not in ("", "auto"):
        raise ValueError(f"{ENV}={v!r}: use 0 (Python loop), 1 (compiled, or fail) or leave it unset")
    return "auto"


def _build(key: str):
    # importing cpp_extension logs a warning on machines without CUDA ("No CUDA runtime is found"):
    # noise for a CPU build, and it would land in notebook outputs that nbval compares
    ext_log = logging.getLogger("torch.utils.cpp_extension")
    level = ext_log.level
    ext_log.setLevel(logging.ERROR)
    try:
        import torch.utils.cpp_extension as cpp_extension
    finally:
        ext_log.setLevel(level)
    build_dir = cache_dir("native", f"statnets_block_{key}")
    log.info("building %s in %s (once)", SOURCE.name, build_dir)
    module = cpp_extension.load(_name(key), [str(SOURCE)], extra_cflags=_cflags(),
                                build_directory=str(build_dir), verbose=False)
    done = build_dir / f"{DONE}.{os.getpid()}"
    done.write_text(module.__file__)
    done.replace(build_dir / DONE)  # atomic: a reader sees no marker or a whole one
    return module


def _name(key: str) -> str:
    return f"uaelab_statnets_block_{key}"


def _built(key: str):
    """The library built earlier for this key, imported directly, or None. Skips importing torch's
    cpp_extension and running ninja's up-to-date check: ~0.05 s of every fresh process's first
    attack. Only after a build finished there (its marker, written by _build once torch loaded
    the library)."""
    build_dir = cache_dir("native", f"statnets_block_{key}")
    marker = build_dir / DONE
    if not marker.is_file():
        return None
    lib = Path(marker.read_text().strip())
    if lib.parent != build_dir or not lib.is_file():
        return None
    spec = importlib.util.spec_from_file_location(_name(key), lib)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def _load(key: str):
    """(module, None) or (None, why it did not build): tried once per process and key."""
    try:
        return _built(key) or _build(key), None
    except Exception as e:  # a missing compiler or ninja, a failed build
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return None, f"{type(e).__name__}: {first}"


def block_kernel():
    """The compiled module (``block_steps``), or None: off by $UAELAB_NATIVE, or it did not build
    (warned once; an error with UAELAB_NATIVE=1)."""
    m = mode()
    if m == "off":
        return None
    module, why = _load(build_key())
    if module is None:
        if m == "require":
            raise RuntimeError(f"{ENV}=1 but the compiled StatNets loop did not build: {why}")
        _warn_once(why)
    return module


@functools.lru_cache(maxsize=None)
def _warn_once(reason: str) -> None:
    warnings.warn(f"uaelab: the compiled StatNets loop is unavailable ({reason}); the Python loop runs "
                  f"instead (the same updates, slower). It needs a C++ compiler and ninja on PATH; "
                  f"set {ENV}=0 to use the Python loop without this warning.", RuntimeWarning, stacklevel=3)


def usable(dtype: torch.dtype, device: torch.device, H: int) -> bool:
    """Whether StatNets' blocks of this kind can run compiled (float32 on CPU, H <= MAX_H)."""
    return dtype == torch.float32 and device.type == "cpu" and H <= MAX_H


def main() -> int:
    """``python -m uaelab.mi.native``: build the compiled loop now (if it is not yet) and say where
    it is, or why StatNets runs the Python loop. Exit status 0 when the compiled loop is usable."""
    m = mode()
    print(f"{ENV}: {os.environ.get(ENV, '(unset)')} -> {m}")
    if m == "off":
        print("StatNets blocks run the Python loop (switched off)")
        return 1
    key = build_key()
    print(f"source: {SOURCE}\nflags: {' '.join(_cflags())}\nbuild key: {key} (source, torch {torch.__version__}, "
          f"flags, this CPU)")
    module, why = _load(key)
    if module is None:
        print(f"not built: {why}\nStatNets blocks run the Python loop")
        return 1
    print(f"library: {module.__file__}\nStatNets blocks run compiled")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
