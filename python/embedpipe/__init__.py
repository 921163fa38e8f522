"""embedpipe - sentence embeddings through libembedpipe (docs/python.md).

    import embedpipe
    vectors = embedpipe.Model("models/all-MiniLM-L6-v2").encode(["a text", "another"])
    out = embedpipe.open("out")          # an output folder of `embedpipe embed -o out`
    out.frame; out.vectors; out.similar(out.frame.id[0])
"""
from __future__ import annotations

import os
from typing import Any, Union

import numpy as np

from ._lib import Error
from .folder import Folder
from .model import Model

__all__ = ["Model", "Folder", "Error", "open", "version"]
__version__ = "0.1.0"


def open(path: Union[str, os.PathLike], dtype: Any = np.float16, mmap: bool = True) -> Folder:  # noqa: A001
    """Opens an output folder of `embedpipe embed` (or `merge`) read-only.

    dtype: the vectors as stored (float16, the default) or float32. mmap: memory-map
    OUT/vectors.npy (made by `embedpipe export OUT --to npy`) for float16 vectors when it is there.
    Raises embedpipe.Error naming the file for a damaged or inconsistent folder."""
    return Folder(path, dtype=dtype, mmap=mmap)


def version() -> str:
    """The loaded libembedpipe's version."""
    from . import _lib
    return _lib.lib().ep_version().decode()
