"""test_python_llm.py - `embedpipe export --to llm` read by llm itself (`llm similar`), re-exports that
write changed rows only, and the llm plugin (`llm embed-multi`, `llm similar -c`) (suite_llm.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from py_env import run_pytest  # noqa: E402

run_pytest("python-llm", ["suite_llm.py"])
