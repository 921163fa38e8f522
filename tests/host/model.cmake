# Model loading: the safetensors reader, the model folder loader, the safetensors fuzz target.
ep_add_test(NAME test_safetensors SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_safetensors.c LABELS host model)
ep_add_test(NAME test_model SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_model.c LABELS host model)
ep_add_test(NAME test_model_real SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_model_real.c LABELS host model)
# The fuzz target under the deterministic replay driver (tests/fuzz_replay_main.c): mutations of its seeds.
ep_add_test(NAME fuzz_safetensors
            SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_safetensors.c ${CMAKE_SOURCE_DIR}/tests/fuzz_replay_main.c
            LABELS host model fuzz)
