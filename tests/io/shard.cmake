# Tests of the output side: SHA-256, shard writer/reader, ids files, manifest, verify.
if(NOT DEFINED EP_PYTHON)
  set(EP_PYTHON python3 CACHE STRING "Python with numpy and zstandard, for the round-trip test")
endif()

ep_add_test(NAME test_sha256 SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sha256.c LABELS io shard)
ep_add_test(NAME test_shard_roundtrip SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_shard_roundtrip.c LABELS io shard)
