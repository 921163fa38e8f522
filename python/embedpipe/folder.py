"""folder - embedpipe.open(OUT): an output folder's vectors, metadata and neighbours.

Everything is read through libembedpipe's checked reader (ep_folder): the manifest is checked on
open and each shard's files (size, SHA-256, shape) before their rows are used, as `embedpipe
verify` does. Shards are zstd-compressed float16 .npy, which cannot be memory-mapped; when OUT
holds the uncompressed export `embedpipe export OUT --to npy` writes (OUT/vectors.npy), the
float16 vectors are that file memory-mapped instead.
"""
from __future__ import annotations

import ctypes
import json
import os
import threading
from typing import TYPE_CHECKING, Any, List, Optional, Tuple, Union

import numpy as np

from . import _lib

if TYPE_CHECKING:
    import pandas

# The keys every ids line has (docs/output-format.md); any other key is text or a kept field.
ROW_KEYS = ("id", "file", "line", "tokens", "truncated", "hash")
BLOCK_ROWS = 65536  # rows per call into the library and per float32 block in similar()


class Folder(_lib.HandleOwner):
    """An output folder of `embedpipe embed`, opened read-only. See embedpipe.open."""

    def __init__(self, path: Union[str, os.PathLike], dtype: Any = np.float16, mmap: bool = True) -> None:
        self.path = os.fspath(path)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float16), np.dtype(np.float32)):
            raise ValueError(f"dtype {self.dtype}: float16 (as stored) or float32")
        self._mmap = mmap
        self._lock = threading.Lock()  # the library's rule: a handle is used by one thread at a time
        lib = _lib.lib()
        err = _lib.new_error()
        handle = ctypes.c_void_p()
        _lib.check(lib.ep_folder_open(self.path.encode(), ctypes.byref(handle), err), err)
        self._handle: Optional[ctypes.c_void_p] = handle
        self.rows: int = int(lib.ep_folder_rows(handle))
        self.dim: int = int(lib.ep_folder_dim(handle))
        self.complete: bool = bool(lib.ep_folder_complete(handle))
        self.model: str = lib.ep_folder_model(handle).decode()
        self._vectors: Optional[np.ndarray] = None
        self._frame: Optional["pandas.DataFrame"] = None
        self.memory_mapped = False

    # --- what the library reads -----------------------------------------------------------------

    def _h(self) -> ctypes.c_void_p:
        if self._handle is None:
            raise ValueError(f"{self.path}: the folder is closed")
        return self._handle

    def read(self, first: int = 0, n: Optional[int] = None, dtype: Any = None) -> np.ndarray:
        """Rows first .. first+n-1 as a new (n, dim) array of dtype (default: the folder's dtype)."""
        n = self.rows - first if n is None else n
        dt = self.dtype if dtype is None else np.dtype(dtype)
        lib, err = _lib.lib(), _lib.new_error()
        if dt == np.float32:
            out = np.empty((n, self.dim), dtype=np.float32)
            with self._lock:
                _lib.check(lib.ep_folder_read(self._h(), first, n, out.ctypes.data, err), err)
            return out
        bits = np.empty((n, self.dim), dtype=np.uint16)
        with self._lock:
            _lib.check(lib.ep_folder_read_f16(self._h(), first, n, bits.ctypes.data, err), err)
        return bits.view(np.float16)

    def meta(self, first: int = 0, n: Optional[int] = None) -> List[dict]:
        """The ids-file objects of rows first .. first+n-1: every key each line has, ids as strings."""
        n = self.rows - first if n is None else n
        lib, err = _lib.lib(), _lib.new_error()
        text, length = ctypes.c_void_p(), ctypes.c_size_t()
        with self._lock:
            _lib.check(lib.ep_folder_meta_ndjson(self._h(), first, n, ctypes.byref(text), ctypes.byref(length), err),
                       err)
        try:
            data = ctypes.string_at(text, length.value).decode("utf-8")
        finally:
            lib.ep_folder_text_free(text)
        return [json.loads(line) for line in data.splitlines()]

    # --- the whole folder ------------------------------------------------------------------------

    @property
    def vectors(self) -> np.ndarray:
        """All rows, (rows, dim), of the folder's dtype: OUT/vectors.npy memory-mapped when it is
        there, float16 and of the right shape (and mmap was not turned off), else read into memory."""
        if self._vectors is None:
            mapped = self._map_export() if (self._mmap and self.dtype == np.float16) else None
            self.memory_mapped = mapped is not None
            self._vectors = mapped if mapped is not None else self.read(0, self.rows)
        return self._vectors

    def _map_export(self) -> Optional[np.ndarray]:
        path = os.path.join(self.path, "vectors.npy")
        try:
            v = np.load(path, mmap_mode="r")
        except (OSError, ValueError):
            return None
        if v.dtype != np.dtype("<f2") or v.shape != (self.rows, self.dim):
            return None
        # vectors.npy is removed when a run resumes or is overwritten (docs/output-format.md), and
        # `verify` checks it byte for byte; spot-check its ends against the shards all the same.
        if self.rows and not (np.array_equal(v[:1].view(np.uint16), self.read(0, 1, np.float16).view(np.uint16)) and
                              np.array_equal(v[-1:].view(np.uint16),
                                             self.read(self.rows - 1, 1, np.float16).view(np.uint16))):
            return None
        return v

    @property
    def frame(self) -> "pandas.DataFrame":
        """One row per vector, index = row number: id (str), file, line, tokens, truncated, hash,
        then text and the kept fields when the run kept them (every key of the ids files)."""
        if self._frame is None:
            records: List[dict] = []
            for first in range(0, self.rows, BLOCK_ROWS):
                records.extend(self.meta(first, min(BLOCK_ROWS, self.rows - first)))
            self._frame = frame_from_records(records)
        return self._frame

    @property
    def ids(self) -> List[str]:
        """The record ids, in row order ("" for a record without one)."""
        return list(self.frame["id"])

    def __len__(self) -> int:
        return self.rows

    # --- neighbours ------------------------------------------------------------------------------

    def similar(self, query: Union[np.ndarray, int, str, List[float]], k: int = 10) -> "pandas.DataFrame":
        """The k rows most similar (cosine) to query, best first: a DataFrame of row, score, id and
        the other metadata columns. query is a vector (e.g. Model.encode(text)), a row number (int)
        or a record id (str); a row or id is left out of its own neighbours."""
        skip = None
        if isinstance(query, (int, np.integer)):
            skip = int(query)
            if not 0 <= skip < self.rows:
                raise IndexError(f"row {skip}: the folder has {self.rows} rows")
            q = self.read(skip, 1, np.float32)[0]
        elif isinstance(query, str):
            matches = np.flatnonzero(self.frame["id"].to_numpy() == query)
            if len(matches) == 0:
                raise KeyError(f"id {query!r} is not in {self.path}")
            skip = int(matches[0])
            q = self.read(skip, 1, np.float32)[0]
        else:
            q = np.asarray(query, dtype=np.float32).reshape(-1)
            if q.shape != (self.dim,):
                raise ValueError(f"query has {q.size} values; the folder's rows have {self.dim}")
        rows, scores = top_k(self.vectors, q, k, skip)
        found = self.frame.iloc[rows].reset_index(drop=True)
        found.insert(0, "score", scores)
        found.insert(0, "row", rows)
        return found

    # --- Parquet ---------------------------------------------------------------------------------

    def to_parquet(self, path: Union[str, os.PathLike], dtype: Any = np.float32, column: str = "vector") -> None:
        """Writes one Parquet file: id (string), text and the kept fields when there are any, and
        `column`, a fixed-size list of dim float32 (or float16) values per row. Needs pyarrow."""
        from .parquet import write_parquet
        write_parquet(self, os.fspath(path), np.dtype(dtype), column)

    # --- life cycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Releases the library's reader (vectors and frame already read stay usable)."""
        self._release("ep_folder_close")

    def __repr__(self) -> str:
        return f"embedpipe.open({self.path!r}): {self.rows} rows x {self.dim} by {self.model}"


def frame_from_records(records: List[dict]) -> "pandas.DataFrame":
    """A DataFrame of ids-file objects: every key a column (rows lacking it get NaN/None), the
    standard keys first, id always as str."""
    import pandas as pd
    df = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=list(ROW_KEYS))
    if "id" in df.columns:
        df["id"] = df["id"].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        df["id"] = df["id"].astype(object)
    order = [c for c in ROW_KEYS if c in df.columns] + [c for c in df.columns if c not in ROW_KEYS]
    return df[order]


def top_k(vectors: np.ndarray, query: np.ndarray, k: int,
          skip: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the k rows with the largest dot product with query/|query| (cosine for
    unit rows), best first, ties by row number; float32 arithmetic in blocks, so float16 rows
    are never all converted at once."""
    q = query.astype(np.float32)
    norm = float(np.linalg.norm(q))
    if norm > 0:
        q = q / norm
    scores = np.empty(len(vectors), dtype=np.float32)
    for first in range(0, len(vectors), BLOCK_ROWS):
        block = np.asarray(vectors[first:first + BLOCK_ROWS], dtype=np.float32)
        scores[first:first + len(block)] = block @ q
    if skip is not None:
        scores[skip] = -np.inf
    k = max(0, min(int(k), len(scores) - (1 if skip is not None else 0)))
    if k == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = np.lexsort((part, -scores[part]))
    rows = part[order].astype(np.int64)
    return rows, scores[rows]
