# The CPU backend, the pipeline and the command line.
ep_add_test(NAME test_cpu_ops SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_cpu_ops.c LABELS host)
# Thousands of real tweets through the real model: Release only (under the sanitizers it would repeat the
# same checks for minutes; the sanitizer build runs every op and the pipeline on small models instead).
ep_add_test(NAME test_embed_conformance SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_embed_conformance.c
            LABELS host conformance no-sanitizer TIMEOUT 900)
# End-to-end pipeline tests: the real binary on a tiny random model.
set(EP_PIPELINE_PY ${CMAKE_CURRENT_SOURCE_DIR})
ep_add_script_test(NAME test_pipeline_resume COMMAND python3 ${EP_PIPELINE_PY}/test_pipeline_resume.py
                   LABELS host pipeline TIMEOUT 600)
ep_add_script_test(NAME test_pipeline_reuse COMMAND python3 ${EP_PIPELINE_PY}/test_pipeline_reuse.py
                   LABELS host pipeline TIMEOUT 600)
ep_add_script_test(NAME test_pipeline_inputs COMMAND python3 ${EP_PIPELINE_PY}/test_pipeline_inputs.py
                   LABELS host pipeline TIMEOUT 600)
# Peak RSS means nothing under AddressSanitizer's shadow memory: Release only.
ep_add_script_test(NAME test_pipeline_memory COMMAND python3 ${EP_PIPELINE_PY}/test_pipeline_memory.py
                   LABELS host pipeline no-sanitizer TIMEOUT 900)
ep_add_script_test(NAME test_cli_inputs COMMAND python3 ${EP_PIPELINE_PY}/test_cli_inputs.py
                   LABELS host pipeline TIMEOUT 600)
ep_add_script_test(NAME test_progress COMMAND python3 ${EP_PIPELINE_PY}/test_progress.py
                   LABELS host pipeline TIMEOUT 300)
ep_add_script_test(NAME test_pipeline_exits COMMAND python3 ${EP_PIPELINE_PY}/test_pipeline_exits.py
                   LABELS host pipeline TIMEOUT 600)
# `cmake --install` into a temporary prefix; the installed binary finds its model from any folder.
ep_add_script_test(NAME test_install COMMAND python3 ${EP_PIPELINE_PY}/test_install.py ${CMAKE_COMMAND}
                   ${CMAKE_BINARY_DIR} LABELS host pipeline TIMEOUT 300)
ep_add_script_test(NAME test_input_damage COMMAND python3 ${EP_PIPELINE_PY}/test_input_damage.py
                   LABELS host pipeline TIMEOUT 600)
# The batcher's cut on synthetic groups (budget, sequence limit, order, determinism).
ep_add_test(NAME test_batcher SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_batcher.c LABELS host pipeline)
