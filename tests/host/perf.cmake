# Tests of the fast CPU path (host/cpu/cpu_fast*.c, host/cpu/backend_cpu_fast.c):
# every kernel table against the reference ops, op by op, and end to end
# against the plain backend and sentence-transformers on real tweets.
ep_add_test(NAME test_cpu_fast SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_cpu_fast.c LABELS host perf)
ep_add_test(NAME test_cpu_fast_conformance SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_cpu_fast_conformance.c
            LABELS host perf conformance TIMEOUT 900)
# The same op tests with the CPU capped, so the fallbacks and the bf16 refusal
# run on a machine that has more.
foreach(isa avx512 avx2 generic)
  add_test(NAME test_cpu_fast_isa_${isa} COMMAND test_cpu_fast)
  set_tests_properties(test_cpu_fast_isa_${isa} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "${EP_TEST_ENV};EMBEDPIPE_CPU_ISA=${isa}" LABELS "host;perf")
endforeach()
# Batch invariance and conformance again with the environment forced, in the
# same ctest run: each EMBEDPIPE_CPU_ISA level (which kernel tables exist) and
# OpenBLAS core types (which kernels the plain backend's GEMMs run). A level or
# core this CPU cannot execute is skipped (exit 77) with the reason, never run
# into SIGILL. On the first 300 tweets of the fixture to keep CI in budget.
foreach(isa generic avx2 avx512 avx512-bf16)
  add_test(NAME test_cpu_fast_conformance_isa_${isa} COMMAND test_cpu_fast_conformance)
  set_tests_properties(test_cpu_fast_conformance_isa_${isa} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
    ENVIRONMENT "${EP_TEST_ENV};EMBEDPIPE_CPU_ISA=${isa};EP_CONFORMANCE_TEXTS=300" LABELS "host;perf;conformance")
endforeach()
foreach(core Haswell SkylakeX Cooperlake SapphireRapids Zen)
  add_test(NAME test_cpu_fast_conformance_openblas_${core} COMMAND test_cpu_fast_conformance)
  set_tests_properties(test_cpu_fast_conformance_openblas_${core} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
    ENVIRONMENT "${EP_TEST_ENV};OPENBLAS_CORETYPE=${core};EP_CONFORMANCE_TEXTS=300" LABELS "host;perf;conformance")
endforeach()
