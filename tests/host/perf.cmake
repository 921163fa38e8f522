# Tests of the fast CPU path (host/cpu/cpu_fast*.c, host/cpu/backend_cpu_fast.c):
# every kernel table against the reference ops, op by op, and end to end
# against the plain backend and sentence-transformers on real tweets.
ep_add_test(NAME test_cpu_fast SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_cpu_fast.c LABELS host perf)
ep_add_test(NAME test_cpu_fast_conformance SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_cpu_fast_conformance.c
            LABELS host perf conformance TIMEOUT 900)
# The same op tests with the CPU capped, so the fallbacks and the bf16 refusal
# run on a machine that has more.
foreach(isa avx512 generic)
  add_test(NAME test_cpu_fast_isa_${isa} COMMAND test_cpu_fast)
  set_tests_properties(test_cpu_fast_isa_${isa} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "${EP_TEST_ENV};EMBEDPIPE_CPU_ISA=${isa}" LABELS "host;perf")
endforeach()
