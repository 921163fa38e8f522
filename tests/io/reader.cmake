# The input readers (io/input/reader.h): synthetic inputs, tweets.js / archive.json, the shared real data, a fuzz replay.
ep_add_test(NAME test_reader SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_reader.c LABELS io reader)
ep_add_test(NAME test_reader_framed SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_reader_framed.c LABELS io reader)
ep_add_test(NAME test_reader_real SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_reader_real.c LABELS io reader real-data)
# The fuzz target, replayed deterministically (tests/fuzz_replay_main.c): seeded mutations of every format.
ep_add_test(NAME fuzz_reader SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_reader.c ${CMAKE_SOURCE_DIR}/tests/fuzz_replay_main.c
            LABELS io reader fuzz)
