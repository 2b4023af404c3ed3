# Compiler settings shared by every target of ours: ccache, warnings, the test helper.

find_program(GALAXY_CCACHE ccache)
if(GALAXY_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${GALAXY_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${GALAXY_CCACHE})
  message(STATUS "ccache: ${GALAXY_CCACHE}")
endif()

# PyTorch's LibTorch libraries carry and export their own copy of parts of libstdc++
# (std::filesystem among them). A program whose first needed library is LibTorch binds its std::
# calls to that copy, and LibTorch 2.11's std::filesystem::remove_all jumps to address 0 when
# called so (the in-process trainer tests crashed there on the GPU machine, bench/gpu_symbols.sh
# shows the bindings). libstdc++ is made the first library of every program of ours, so std::
# resolves to it, as in a Python process that imports torch.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  add_link_options("LINKER:--push-state,--no-as-needed" "-lstdc++" "LINKER:--pop-state")
endif()

# GALAXY_SANITIZE=address,undefined (deploy/sanitize.sh): every target of ours, tests included,
# built with those sanitizers. Third-party libraries (LibTorch, FAISS, gRPC) stay uninstrumented;
# ASan still sees their heap through its malloc replacement.
set(GALAXY_SANITIZE "" CACHE STRING "Sanitizers for our code, e.g. address,undefined (deploy/sanitize.sh)")
if(GALAXY_SANITIZE)
  add_compile_options(-fsanitize=${GALAXY_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${GALAXY_SANITIZE})
  message(STATUS "sanitizers: ${GALAXY_SANITIZE}")
endif()

# galaxy_warnings(target): warnings on for our own code only (third-party headers come in as
# SYSTEM includes through imported targets, so they stay quiet).
function(galaxy_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(GALAXY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# galaxy_test(name SOURCES ... LIBS ...): one GoogleTest binary, registered with ctest.
# Test binaries land in build/tests/, away from the user-facing binaries in build/bin/.
# PROCESSORS n: its tests use n cores themselves, so `ctest -j` runs nothing else in those slots.
function(galaxy_test name)
  if(NOT GALAXY_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT;FIXTURE;PROCESSORS" "SOURCES;LIBS;LABELS" ${ARGN})
  # Every test binary prints the stack of a crash (tests/crash_trace.cc); ENABLE_EXPORTS (-rdynamic)
  # lets that stack name our own functions, not only the shared libraries'.
  if(NOT TARGET galaxy_crash_trace)
    add_library(galaxy_crash_trace OBJECT ${PROJECT_SOURCE_DIR}/tests/crash_trace.cc)
    galaxy_warnings(galaxy_crash_trace)
  endif()
  add_executable(${name} ${ARG_SOURCES} $<TARGET_OBJECTS:galaxy_crash_trace>)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests ENABLE_EXPORTS ON)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main ${CMAKE_DL_LIBS})
  galaxy_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  # An empty value would shift the key/value pairs: build the property list explicitly.
  set(properties TIMEOUT ${ARG_TIMEOUT})
  if(ARG_LABELS)
    list(APPEND properties LABELS "${ARG_LABELS}")
  endif()
  if(ARG_PROCESSORS)
    list(APPEND properties PROCESSORS ${ARG_PROCESSORS})
  endif()
  if(ARG_FIXTURE)
    # FIXTURE <gtest filter>: that test runs once, first, and every test of the binary needs it.
    add_test(NAME ${name}_fixture COMMAND ${name} --gtest_filter=${ARG_FIXTURE})
    set_tests_properties(${name}_fixture PROPERTIES FIXTURES_SETUP ${name}_data TIMEOUT ${ARG_TIMEOUT})
    list(APPEND properties FIXTURES_REQUIRED ${name}_data)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ${properties})
endfunction()
