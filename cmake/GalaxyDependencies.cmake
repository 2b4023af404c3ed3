# Every third-party dependency, found once here. All come from Debian bookworm's packages
# (deploy/install-deps.sh installs them); on the GPU machine LibTorch comes from the machine's
# PyTorch and the rest from carried Debian packages (docs/DEVELOPING.md, "GPU machine").

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# --- FAISS 1.7.3: OpenMP and BLAS/LAPACK must be found before faiss (static libfaiss.a) -------
find_package(OpenMP REQUIRED)
set(BLA_VENDOR OpenBLAS)
find_package(BLAS)
if(NOT BLAS_FOUND)
  message(WARNING "OpenBLAS not found: FAISS falls back to the reference BLAS, many times slower. "
                  "Install libopenblas-dev.")
  unset(BLA_VENDOR)
  find_package(BLAS REQUIRED)
endif()
find_package(LAPACK REQUIRED)
find_package(faiss REQUIRED)
# LIBLINEAR (liblinear-dev): the few-shot classifier's logistic regression. No CMake or pkg-config
# file ships with it.
find_path(LIBLINEAR_INCLUDE_DIR linear.h REQUIRED)
find_library(LIBLINEAR_LIBRARY linear REQUIRED)
add_library(galaxy_liblinear INTERFACE IMPORTED)
target_include_directories(galaxy_liblinear INTERFACE ${LIBLINEAR_INCLUDE_DIR})
target_link_libraries(galaxy_liblinear INTERFACE ${LIBLINEAR_LIBRARY})
get_target_property(_faiss_includes faiss INTERFACE_INCLUDE_DIRECTORIES)
if(NOT _faiss_includes)
  set(_faiss_includes /usr/include)
endif()
find_file(GALAXY_FAISS_GPU_HEADER faiss/gpu/GpuIndexFlat.h PATHS ${_faiss_includes} NO_CACHE)
if(GALAXY_FAISS_GPU AND NOT GALAXY_FAISS_GPU_HEADER)
  message(WARNING "GALAXY_FAISS_GPU=ON but this FAISS has no GPU headers (faiss/gpu/GpuIndexFlat.h): "
                  "the FAISS GPU index path is OFF. The exact LibTorch GPU search needs no FAISS GPU.")
  set(GALAXY_FAISS_GPU OFF CACHE BOOL "" FORCE)
elseif(NOT GALAXY_FAISS_GPU)
  if(GALAXY_FAISS_GPU_HEADER)
    message(STATUS "FAISS has GPU headers; configure with -DGALAXY_FAISS_GPU=ON to use its GPU indexes")
  else()
    message(STATUS "FAISS GPU index path: OFF (this FAISS is CPU-only)")
  endif()
endif()

# --- gRPC 1.51 + Protobuf 3.21 + Abseil 20220623 -----------------------------------------------
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_program(GALAXY_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

# --- LibTorch (CPU from Debian here; CUDA where the LibTorch found was built with it) -----------
# Found after Protobuf and gRPC on purpose: PyTorch's CMake config defines its own
# protobuf::libprotobuf when none exists yet, and that one does not link Debian's libprotobuf.
find_package(Torch REQUIRED)
if(TORCH_CUDA_LIBRARIES OR TARGET torch_cuda)
  set(GALAXY_WITH_CUDA ON)
else()
  set(GALAXY_WITH_CUDA OFF)
endif()

# --- storage and data formats -------------------------------------------------------------------
find_package(OpenSSL REQUIRED)
find_package(RocksDB CONFIG REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
pkg_check_modules(CFITSIO REQUIRED IMPORTED_TARGET cfitsio)
pkg_check_modules(WCSLIB REQUIRED IMPORTED_TARGET wcslib)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
find_package(BZip2 REQUIRED)

# c10d's Gloo process group (data-parallel training, trainer/data_parallel.h): LibTorch's
# header, and libgloo's headers and library (Debian: libgloo-dev), which that header includes.
# Without them galaxy-train trains in one process and says so when WORLD_SIZE > 1.
find_path(GALAXY_C10D_GLOO_HEADER torch/csrc/distributed/c10d/ProcessGroupGloo.hpp PATHS ${TORCH_INCLUDE_DIRS}
          NO_CACHE)
find_path(GLOO_INCLUDE_DIR gloo/config.h)
find_library(GLOO_LIBRARY NAMES gloo libgloo.so.0)
if(GALAXY_C10D_GLOO_HEADER AND GLOO_INCLUDE_DIR AND GLOO_LIBRARY)
  set(GALAXY_WITH_GLOO ON)
else()
  set(GALAXY_WITH_GLOO OFF)
  message(STATUS "data-parallel training off: LibTorch's c10d Gloo header or libgloo (libgloo-dev) not found")
endif()

# --- support: logging (kept away from LibTorch, see core/CMakeLists.txt), CLI, JSON, HTTP ------
find_package(spdlog CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
# cpp-httplib ships only a pkg-config file; it is a compiled library.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# stb (image writing) ships a pkg-config file and a compiled libstb.
pkg_check_modules(STB REQUIRED IMPORTED_TARGET stb)
pkg_check_modules(PLPLOT REQUIRED IMPORTED_TARGET plplot)

# --- tests and benchmarks ------------------------------------------------------------------------
if(GALAXY_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
find_package(benchmark CONFIG REQUIRED)
