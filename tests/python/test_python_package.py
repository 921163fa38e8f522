"""test_python_package.py - the embedpipe Python package (python/, docs/python.md), installed with
`pip install ./python`: Model.encode against the command line bit for bit, open() on a run and on a
merged folder, the DataFrame, similar, to_parquet read back by pyarrow and DuckDB (suite_package.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from py_env import run_pytest  # noqa: E402

run_pytest("python-package", ["suite_package.py"])
