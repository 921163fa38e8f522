"""_lib - loads libembedpipe.so and declares the C API of include/embedpipe.h for ctypes.

Where the library comes from, first found wins:
  1. $EMBEDPIPE_LIBRARY (a path to libembedpipe.so), to use another build without reinstalling;
  2. the copy `pip install ./python` bundled in this package (embedpipe/_lib/libembedpipe.so);
  3. a system-wide libembedpipe (`cmake --install`), as the dynamic loader finds it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Optional, TypeVar

_BUNDLED = Path(__file__).resolve().parent / "_lib" / "libembedpipe.so"


class Error(RuntimeError):
    """A failure reported by libembedpipe: `code` is its ep_status, the message says what and where."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class _EpError(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("message", ctypes.c_char * 1024)]


def _candidates() -> list:
    env = os.environ.get("EMBEDPIPE_LIBRARY")
    if env:
        return [env]  # an explicit choice is never silently replaced by another library
    found = [str(_BUNDLED)] if _BUNDLED.is_file() else []
    system = ctypes.util.find_library("embedpipe")
    if system:
        found.append(system)
    return found


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
            continue
        if not hasattr(lib, "ep_folder_meta_ndjson"):
            tried.append(f"{path}: an older libembedpipe without ep_folder_meta_ndjson; rebuild it and reinstall")
            continue
        return _declare(lib)
    raise ImportError(
        "embedpipe: libembedpipe.so not found or not usable" + ("".join(f"\n  {t}" for t in tried) or "") +
        "\nInstall the package from a checkout with `pip install ./python` (it bundles or builds the library),"
        " or set EMBEDPIPE_LIBRARY to a built libembedpipe.so (see docs/python.md).")


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    P, E = ctypes.c_void_p, ctypes.POINTER(_EpError)
    sigs = {
        "ep_version": (ctypes.c_char_p, []),
        "ep_status_name": (ctypes.c_char_p, [ctypes.c_int]),
        "ep_embedder_options_create": (P, []),
        "ep_embedder_options_free": (None, [P]),
        "ep_embedder_options_set": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p, E]),
        "ep_embedder_create": (ctypes.c_int, [ctypes.c_char_p, P, ctypes.POINTER(P), E]),
        "ep_embedder_free": (None, [P]),
        "ep_embedder_dim": (ctypes.c_int, [P]),
        "ep_embedder_max_seq_length": (ctypes.c_int, [P]),
        "ep_embedder_normalized": (ctypes.c_int, [P]),
        "ep_embedder_device": (ctypes.c_char_p, [P]),
        "ep_embedder_encode": (ctypes.c_int, [P, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t),
                                              ctypes.c_size_t, P, E]),
        "ep_folder_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(P), E]),
        "ep_folder_close": (None, [P]),
        "ep_folder_rows": (ctypes.c_uint64, [P]),
        "ep_folder_dim": (ctypes.c_int, [P]),
        "ep_folder_complete": (ctypes.c_int, [P]),
        "ep_folder_model": (ctypes.c_char_p, [P]),
        "ep_folder_read": (ctypes.c_int, [P, ctypes.c_uint64, ctypes.c_size_t, P, E]),
        "ep_folder_read_f16": (ctypes.c_int, [P, ctypes.c_uint64, ctypes.c_size_t, P, E]),
        "ep_folder_meta_ndjson": (ctypes.c_int, [P, ctypes.c_uint64, ctypes.c_size_t, ctypes.POINTER(P),
                                                 ctypes.POINTER(ctypes.c_size_t), E]),
        "ep_folder_text_free": (None, [P]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


_lib: Optional[ctypes.CDLL] = None


def lib() -> ctypes.CDLL:
    """The loaded library (loaded on first use, so that `import embedpipe` alone never fails)."""
    global _lib
    if _lib is None:
        _lib = _load()
    return _lib


def check(status: int, err: _EpError) -> None:
    """Raises Error for a non-zero ep_status, with the library's message."""
    if status != 0:
        message = err.message.decode("utf-8", "replace") or lib().ep_status_name(status).decode()
        raise Error(status, message)


def new_error() -> _EpError:
    return _EpError()


_Owner = TypeVar("_Owner", bound="HandleOwner")


class HandleOwner:
    """Owns one library handle (self._handle): a with-block or garbage collection closes it, and
    _release frees it at most once through the library function named by the subclass."""

    def _release(self, free_name: str) -> None:
        if getattr(self, "_handle", None) is not None:
            getattr(lib(), free_name)(self._handle)
            self._handle = None

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Owner) -> _Owner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
