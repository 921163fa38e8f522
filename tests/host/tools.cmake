# Tests of the output tools: merge (--part I/N joined), export (npy / ndjson), bench, and the
# output folder itself (one writer at a time, only the run's own files: folder).
# They run the real binary on a tiny random model; the Python is EP_PYTHON (numpy and
# zstandard add independent checks when it has them; scripts/test.sh passes one that does).
if(NOT DEFINED EP_PYTHON)
  set(EP_PYTHON python3 CACHE STRING "Python with numpy and zstandard, for the round-trip test")
endif()
foreach(t merge export bench checked_reads folder)
  ep_add_script_test(NAME test_tools_${t}
    COMMAND ${EP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_tools_${t}.py
    LABELS host tools TIMEOUT 300)
endforeach()
# The Python loader of README.md and docs/output-format.md, run as written.
ep_add_script_test(NAME test_readme_loader COMMAND ${EP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_readme_loader.py
                   LABELS host tools python TIMEOUT 300)
