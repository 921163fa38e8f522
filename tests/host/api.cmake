# The public API (include/embedpipe.h, docs/api.md): its rows against the command line's, the folder reader,
# errors (test_api); libembedpipe.so's exports, its installed copy and the examples built against it
# (test_api_library).
ep_add_test(NAME test_api SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_api.c LABELS host api TIMEOUT 300)
ep_add_script_test(NAME test_api_library
  COMMAND ${EP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_api_library.py ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR}
          ${CMAKE_C_COMPILER} $<TARGET_FILE:embedpipe_shared>
  LABELS host api TIMEOUT 300)
