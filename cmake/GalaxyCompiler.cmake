# Compiler settings shared by every target of ours: ccache, warnings, the test helper.

find_program(GALAXY_CCACHE ccache)
if(GALAXY_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${GALAXY_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${GALAXY_CCACHE})
  message(STATUS "ccache: ${GALAXY_CCACHE}")
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
function(galaxy_test name)
  if(NOT GALAXY_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  galaxy_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()
