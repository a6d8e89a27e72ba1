#!/bin/sh
# Installs what clmlp needs to build and test on Debian 12 (bookworm).
set -eu
packages="build-essential cmake pkg-config ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
libclblast-dev libcmocka-dev libcsv-dev zlib1g-dev dataset-fashion-mnist clang clang-format libclang-rt-14-dev valgrind oclgrind
openmpi-bin libopenmpi-dev doxygen man-db groff-base python3-venv python3-numpy python3-pytest python3-pip python3-dev"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "setup: all packages present"
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: run as root or install sudo"; exit 1; }
    sudo="sudo"
fi
echo "setup: installing$missing"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
