# Third-party dependencies. Everything comes from Debian packages except LibTorch, which
# comes from the pinned `torch` wheel in the project venv (scripts/setup creates it).

# LibTorch: ask the venv's Python where the wheel keeps its CMake package.
set(MAMMOSWEEP_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python interpreter whose torch wheel provides LibTorch")
if(NOT Torch_DIR)
  execute_process(
    COMMAND ${MAMMOSWEEP_PYTHON} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE _torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _torch_rc ERROR_QUIET)
  if(NOT _torch_rc EQUAL 0)
    message(FATAL_ERROR
      "Cannot import torch with ${MAMMOSWEEP_PYTHON}. Run scripts/setup first, "
      "or pass -DMAMMOSWEEP_PYTHON=/path/to/python (a Python with torch installed).")
  endif()
  list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")
endif()
# The CUDA wheel's CMake package wants a CUDA architecture even though we compile no .cu.
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(ENV{TORCH_CUDA_ARCH_LIST} "9.0")
endif()
find_package(Torch 2.0 REQUIRED)
# Torch bundles its own fmt headers (a newer fmt, in its own inline namespace), so every
# target uses fmt header-only: each translation unit is consistent with the headers it sees.
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
add_library(mammosweep_torch INTERFACE)
target_link_libraries(mammosweep_torch INTERFACE ${TORCH_LIBRARIES})
target_compile_options(mammosweep_torch INTERFACE ${_torch_flags})
execute_process(
  COMMAND ${MAMMOSWEEP_PYTHON} -c "import torch; print(torch.__version__)"
  OUTPUT_VARIABLE MAMMOSWEEP_TORCH_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)

# Does this LibTorch have CUDA?
set(MAMMOSWEEP_TORCH_HAS_CUDA OFF)
if(TARGET torch_cuda OR TARGET c10_cuda OR CUDA_FOUND)
  set(MAMMOSWEEP_TORCH_HAS_CUDA ON)
endif()

find_package(MPI REQUIRED COMPONENTS CXX)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 QUIET)
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
find_package(Threads REQUIRED)
# xxHash (Debian's libxxhash-dev): the checksum of checkpoint files (io/hash.h). No CMake config.
find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
find_library(XXHASH_LIBRARY xxhash REQUIRED)

# NCCL: AUTO turns it on when LibTorch has CUDA and NCCL is found.
set(MAMMOSWEEP_WITH_NCCL OFF)
if(NOT MAMMOSWEEP_NCCL STREQUAL "OFF")
  # Prefer the NCCL that ships with the torch wheel (the one LibTorch itself loads).
  execute_process(
    COMMAND ${MAMMOSWEEP_PYTHON} -c
      "import importlib.util,os; s=importlib.util.find_spec('nvidia.nccl'); print(os.path.join(list(s.submodule_search_locations)[0]) if s else '')"
    OUTPUT_VARIABLE _wheel_nccl OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_wheel_nccl}/include $ENV{CUDA_HOME}/include
            /usr/local/cuda/include)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR
               HINTS ${_wheel_nccl}/lib $ENV{CUDA_HOME}/lib64 /usr/local/cuda/lib64)
  if(MAMMOSWEEP_TORCH_HAS_CUDA AND NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(MAMMOSWEEP_WITH_NCCL ON)
  elseif(MAMMOSWEEP_NCCL STREQUAL "ON")
    message(FATAL_ERROR "MAMMOSWEEP_NCCL=ON but LibTorch has CUDA=${MAMMOSWEEP_TORCH_HAS_CUDA}, "
                        "nccl.h=${NCCL_INCLUDE_DIR}, libnccl=${NCCL_LIBRARY}")
  endif()
endif()
set(MAMMOSWEEP_NCCL_VERSION "none")
if(MAMMOSWEEP_WITH_NCCL)
  file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_defs REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) ")
  string(REGEX REPLACE ".*NCCL_MAJOR ([0-9]+).*NCCL_MINOR ([0-9]+).*NCCL_PATCH ([0-9]+).*"
         "\\1.\\2.\\3" MAMMOSWEEP_NCCL_VERSION "${_nccl_defs}")
endif()
set(MAMMOSWEEP_CUDA_VERSION "none")
if(MAMMOSWEEP_TORCH_HAS_CUDA AND CUDA_VERSION)
  set(MAMMOSWEEP_CUDA_VERSION "${CUDA_VERSION}")
endif()
message(STATUS "mammosweep: torch ${MAMMOSWEEP_TORCH_VERSION}, CUDA in LibTorch: "
               "${MAMMOSWEEP_TORCH_HAS_CUDA} (${MAMMOSWEEP_CUDA_VERSION}), NCCL backend: ${MAMMOSWEEP_WITH_NCCL} "
               "(${MAMMOSWEEP_NCCL_VERSION})")
