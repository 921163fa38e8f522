# The CPU backend, the pipeline and the command line.
ep_add_test(NAME test_cpu_ops SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_cpu_ops.c LABELS host)
ep_add_test(NAME test_embed_conformance SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_embed_conformance.c
            LABELS host conformance TIMEOUT 900)
