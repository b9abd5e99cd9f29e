# Cross-compile for arm64 (aarch64-linux-gnu) on a Debian 12 amd64 host.
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
#         [-DARM64_DEV_SIDECAR=$PWD/build-arm64-dev]
#
# Needs crossbuild-essential-arm64, pkgconf:arm64 and the :arm64 -dev packages
# (multiarch). libpq-dev and libmariadb-dev are not Multi-Arch: next to their amd64
# copies they live unpacked in a side folder (ARM64_DEV_SIDECAR, or the
# environment variable of that name); in a builder without the amd64 ones (the
# Dockerfile) they are simply apt-installed as :arm64. .ci/arm64.sh does all this.
# Tests run through qemu-user (CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(PKG_CONFIG_EXECUTABLE /usr/bin/aarch64-linux-gnu-pkg-config CACHE FILEPATH "")

if(NOT DEFINED ARM64_DEV_SIDECAR)
  set(ARM64_DEV_SIDECAR "$ENV{ARM64_DEV_SIDECAR}")
endif()
set(CMAKE_FIND_ROOT_PATH "/")
if(ARM64_DEV_SIDECAR)
  # Try-compile projects re-read this file: pass the variable on to them.
  list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ARM64_DEV_SIDECAR)
  set(ENV{PKG_CONFIG_PATH} "${ARM64_DEV_SIDECAR}/usr/lib/aarch64-linux-gnu/pkgconfig")
  set(CMAKE_FIND_ROOT_PATH "${ARM64_DEV_SIDECAR};/")
endif()
# Host programs (python3), target libraries and headers only.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest runs target programs through qemu-user with the arm64 loader and libc.
# find_program results are cached: a build dir configured before qemu was
# installed keeps no emulator, so pass -DCMAKE_CROSSCOMPILING_EMULATOR explicitly
# (as .ci/arm64.sh does) or configure afresh.
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
  if(QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${QEMU_AARCH64};-L;/usr/aarch64-linux-gnu")
  endif()
endif()
