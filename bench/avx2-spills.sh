#!/bin/sh
# The spills of the products' hot loops, compiled by POCL for Haswell (AVX2) and for this
# CPU, with the AVX2 rule's tiles and the AVX-512 ones (bench/README.md). Run from the
# checkout after a build in build/.
for dt in f32 f64; do
  if [ $dt = f32 ]; then set -- 8:4x3:2x4 16:8x2:4x4; else set -- 4:4x3:2x4 8:8x2:4x4; fi
  for t in "$@"; do
    for cpu in haswell native; do
      rm -rf /tmp/pc-h && mkdir /tmp/pc-h
      if [ $cpu = haswell ]; then env="POCL_LLVM_CPU_NAME=haswell POCL_KERNELLIB_NAME=avx2"; else env=""; fi
      env $env POCL_CACHE_DIR=/tmp/pc-h CLMLP_CACHE_DIR=off POCL_LEAVE_KERNEL_COMPILER_TEMP_FILES=1 CLMLP_TILES=$t \
        ./build/clmlp_bench --only kernels --backends opencl --dtypes $dt --runs 1 >/dev/null 2>&1
      line="$dt $t $cpu:"
      for k in gemm_nn gemm_tn_sgd gemm_nt; do
        so=$(find /tmp/pc-h -path "*$k/1-1-1-goffs0-smallgrid/$k.so" | head -1)
        r=$(python3 bench/spills.py "$so" "_pocl_kernel_${k}_workgroup_fast" | awk '$4+0 >= 8 {printf "%s FMAs/%s stack ", $4, $6}' )
        line="$line $k [$r]"
      done
      echo "$line"
    done
  done
done
