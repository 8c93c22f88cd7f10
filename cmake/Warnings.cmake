# mammosweep_warnings(target): the project's warning set, applied to our own code only.
function(mammosweep_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
endfunction()

# mammosweep_library(name DEPS ...): a folder library built from every .cpp in the folder
# (except main.cpp), with the repository root on the include path so headers are
# included as "folder/header.h".
function(mammosweep_library name)
  cmake_parse_arguments(ARG "" "" "DEPS;EXCLUDE" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  foreach(ex IN LISTS ARG_EXCLUDE)
    list(REMOVE_ITEM sources ${CMAKE_CURRENT_SOURCE_DIR}/${ex})
  endforeach()
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  mammosweep_warnings(${name})
endfunction()

# mammosweep_torch_free(exe lib): a test of a library that does not link LibTorch joins the
# target torch_free_tests, which CI builds and runs under ASan + UBSan
# (scripts/test --sanitize=torch-free selects them by their labels: io, sweeps, results, image).
set(MAMMOSWEEP_TORCH_FREE_LIBS mammosweep_io mammosweep_sweeps mammosweep_results mammosweep_image)
function(mammosweep_torch_free exe lib)
  if(lib IN_LIST MAMMOSWEEP_TORCH_FREE_LIBS)
    add_dependencies(torch_free_tests ${exe})
  endif()
endfunction()
