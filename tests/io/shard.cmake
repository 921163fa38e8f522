# Tests of the output side: SHA-256, shard writer/reader, ids files, manifest, verify,
# loading shards from Python, and a fuzz target for everything that reads them back.
if(NOT DEFINED EP_PYTHON)
  set(EP_PYTHON python3 CACHE STRING "Python with numpy and zstandard, for the round-trip test")
endif()

foreach(t test_sha256 test_shard_roundtrip test_shard_ids test_shard_corrupt test_manifest test_manifest_verify
          test_folder_lock)
  ep_add_test(NAME ${t} SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/${t}.c LABELS io shard)
endforeach()

# The C side of the Python round trip: writes shards, a manifest and what it wrote.
add_executable(test_numpy_roundtrip_helper ${CMAKE_CURRENT_SOURCE_DIR}/test_numpy_roundtrip_helper.c)
target_compile_options(test_numpy_roundtrip_helper PRIVATE ${EP_WARNINGS})
target_link_libraries(test_numpy_roundtrip_helper PRIVATE embedpipe)
ep_add_script_test(NAME test_numpy_roundtrip
  COMMAND ${EP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_numpy_roundtrip.py
          $<TARGET_FILE:test_numpy_roundtrip_helper> ${CMAKE_CURRENT_BINARY_DIR}/numpy_roundtrip
  LABELS io shard python)

# The fuzz target under the deterministic replay driver (tests/fuzz_replay_main.c):
# mutations of its seeds (a .npy, an ids file, a manifest), also framed with zstd.
ep_add_test(NAME fuzz_shard
            SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_shard.c ${CMAKE_SOURCE_DIR}/tests/fuzz_replay_main.c
            LABELS io shard fuzz)
# Each input writes and reads several files, so fewer runs than the driver's default keep it quick.
set(EP_FUZZ_SHARD_RUNS 4000 CACHE STRING "Inputs fuzz_shard replays under ctest")
set_property(TEST fuzz_shard APPEND PROPERTY ENVIRONMENT "EP_FUZZ_RUNS=${EP_FUZZ_SHARD_RUNS}")
# The portable block function too, where the CPU would otherwise take the SHA-NI one.
add_test(NAME test_sha256_portable COMMAND test_sha256)
set_tests_properties(test_sha256_portable PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "io;shard"
                     ENVIRONMENT "${EP_TEST_ENV};EMBEDPIPE_SHA256_PORTABLE=1")
