"""parquet - Folder.to_parquet: one Parquet file of ids, kept fields and vectors, with pyarrow."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .folder import BLOCK_ROWS, ROW_KEYS

if TYPE_CHECKING:
    from .folder import Folder


def write_parquet(folder: "Folder", path: str, dtype: np.dtype, column: str) -> None:
    """Writes folder's rows to path in row groups of BLOCK_ROWS rows, so memory stays at one block
    of vectors whatever the folder's size. The file appears complete or not at all."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ImportError("to_parquet needs pyarrow: pip install pyarrow (or pip install './python[parquet]')") from e
    if dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise ValueError(f"dtype {dtype}: float32 or float16")
    frame = folder.frame
    kept = [c for c in frame.columns if c not in ROW_KEYS]
    meta = frame[["id"] + kept]
    if column in meta.columns:
        raise ValueError(f"column {column!r} is also a kept field's name; pass another column=")
    value_type = pa.float32() if dtype == np.float32 else pa.float16()
    meta_schema = pa.Schema.from_pandas(meta, preserve_index=False)
    schema = meta_schema.append(pa.field(column, pa.list_(value_type, folder.dim)))
    schema = schema.remove_metadata()
    tmp = f"{path}.tmp"
    import os
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for first in range(0, folder.rows, BLOCK_ROWS):
                n = min(BLOCK_ROWS, folder.rows - first)
                block = folder.read(first, n, np.float32 if dtype == np.float32 else np.float16)
                values = pa.array(block.reshape(-1), type=value_type)
                vectors = pa.FixedSizeListArray.from_arrays(values, folder.dim)
                part = pa.Table.from_pandas(meta.iloc[first:first + n], schema=meta_schema, preserve_index=False)
                part = part.append_column(pa.field(column, vectors.type), vectors).replace_schema_metadata(None)
                writer.write_table(part)
            if folder.rows == 0:
                writer.write_table(schema.empty_table())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
