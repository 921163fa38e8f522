# EmbedpipeDeps.cmake - the third-party libraries libembedpipe links: cJSON, zstd, utf8proc, xxHash,
# zlib, OpenBLAS (pthread flavour) and threads. Included once from the top-level CMakeLists.txt.
#
# Provides, whichever way they are found: the imported targets PkgConfig::CJSON, PkgConfig::ZSTD,
# PkgConfig::UTF8PROC, PkgConfig::XXHASH, PkgConfig::ZLIB, Threads::Threads, and the variables
# OPENBLAS_INCLUDE_DIR and OPENBLAS_LIBRARY.
#
# Two ways:
# 1. The system (default): the Debian packages libcjson-dev libzstd-dev libutf8proc-dev
#    libopenblas-dev libxxhash-dev zlib1g-dev (scripts/deps.sh), through pkg-config, which also
#    searches CMAKE_PREFIX_PATH as usual.
# 2. A private prefix, -DEMBEDPIPE_DEPS_PREFIX=DIR (or the environment variable of that name): DIR
#    is a root into which the same Debian packages were unpacked with `dpkg -x` (bench/gpu.sh does
#    this from the GPU kit, scripts/gpu-kit.sh). Every header and library then comes from DIR and
#    nowhere else (NO_DEFAULT_PATH; no pkg-config, which a bare GPU machine may not have, and whose
#    .pc files there would say prefix=/usr), and the programs carry DIR's library folders as RPATH
#    (DT_RPATH, not RUNPATH, so that it also covers OpenBLAS's own libgfortran), so they run with
#    DIR's libraries and need no LD_LIBRARY_PATH. tests/kit checks that nothing leaks in from /usr.

set(EMBEDPIPE_DEPS_PREFIX "$ENV{EMBEDPIPE_DEPS_PREFIX}" CACHE PATH
  "Root of the dependencies unpacked with dpkg -x (the GPU kit); empty: use the system's")
find_package(Threads REQUIRED)

if(EMBEDPIPE_DEPS_PREFIX)
  get_filename_component(_ep_root "${EMBEDPIPE_DEPS_PREFIX}" ABSOLUTE)
  if(NOT IS_DIRECTORY "${_ep_root}/usr/include")
    message(FATAL_ERROR "EMBEDPIPE_DEPS_PREFIX=${_ep_root} has no usr/include: unpack the kit's .deb files there "
                        "first (bench/gpu.sh does: dpkg -x FILE.deb ${_ep_root})")
  endif()
  set(_ep_arch "${CMAKE_LIBRARY_ARCHITECTURE}")
  set(_ep_libdirs "${_ep_root}/usr/lib/${_ep_arch}" "${_ep_root}/lib/${_ep_arch}"
                  "${_ep_root}/usr/lib/${_ep_arch}/openblas-pthread")

  # ep_dep(TARGET HEADER LIBRARY [include subfolders]): an imported target from the prefix alone.
  function(ep_dep target header library)
    string(MAKE_C_IDENTIFIER "${target}" id)
    unset(EP_DEP_${id}_INC CACHE)  # found afresh on every configure: the prefix may have moved
    unset(EP_DEP_${id}_LIB CACHE)
    set(incs "${_ep_root}/usr/include")
    foreach(sub ${ARGN})
      list(APPEND incs "${_ep_root}/usr/include/${sub}")
    endforeach()
    find_path(EP_DEP_${id}_INC ${header} PATHS ${incs} NO_DEFAULT_PATH)
    find_library(EP_DEP_${id}_LIB NAMES ${library} PATHS ${_ep_libdirs} NO_DEFAULT_PATH)
    if(NOT EP_DEP_${id}_INC OR NOT EP_DEP_${id}_LIB)
      message(FATAL_ERROR "${header} / lib${library}.so not found under EMBEDPIPE_DEPS_PREFIX=${_ep_root}: "
                          "the kit is incomplete; make it again with scripts/gpu-kit.sh")
    endif()
    add_library(${target} UNKNOWN IMPORTED GLOBAL)
    set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${EP_DEP_${id}_LIB}"
      INTERFACE_INCLUDE_DIRECTORIES "${incs}")
    set(EP_DEP_INC "${EP_DEP_${id}_INC}" PARENT_SCOPE)
    set(EP_DEP_LIB "${EP_DEP_${id}_LIB}" PARENT_SCOPE)
    message(STATUS "embedpipe: ${target} ${EP_DEP_${id}_LIB}")
  endfunction()

  ep_dep(PkgConfig::CJSON cjson/cJSON.h cjson cjson)
  ep_dep(PkgConfig::ZSTD zstd.h zstd)
  ep_dep(PkgConfig::UTF8PROC utf8proc.h utf8proc)
  ep_dep(PkgConfig::XXHASH xxhash.h xxhash)
  ep_dep(PkgConfig::ZLIB zlib.h z)
  ep_dep(_ep_openblas cblas.h openblas ${_ep_arch}/openblas-pthread)
  set(OPENBLAS_INCLUDE_DIR "${EP_DEP_INC}")
  set(OPENBLAS_LIBRARY "${EP_DEP_LIB}")

  # The build tree's and the installed programs' RPATH: the prefix's library folders, as DT_RPATH.
  list(APPEND CMAKE_BUILD_RPATH ${_ep_libdirs})
  list(APPEND CMAKE_INSTALL_RPATH ${_ep_libdirs})
  add_link_options(LINKER:--disable-new-dtags)
  message(STATUS "embedpipe: dependencies from EMBEDPIPE_DEPS_PREFIX=${_ep_root} only (RPATH set)")
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
  pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
  pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
  pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
  pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
  # OpenBLAS: the pthread flavour, so that its threads are ours to size.
  find_path(OPENBLAS_INCLUDE_DIR cblas.h
    PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/aarch64-linux-gnu/openblas-pthread
          /usr/include/openblas /usr/include NO_DEFAULT_PATH)
  find_library(OPENBLAS_LIBRARY NAMES openblas
    PATHS /usr/lib/x86_64-linux-gnu/openblas-pthread /usr/lib/aarch64-linux-gnu/openblas-pthread)
  if(NOT OPENBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
    message(FATAL_ERROR "OpenBLAS not found: install it with `apt-get install libopenblas-dev` (scripts/deps.sh does this)")
  endif()
endif()
message(STATUS "embedpipe: OpenBLAS ${OPENBLAS_LIBRARY}")
