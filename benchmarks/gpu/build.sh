#!/usr/bin/env bash
# Builds benchmarks/gpu/bin/kiln-gpu-harness: the GBDT trainer / predictor sources of the addon
# (no N-API) plus the CUDA backend, statically linked to the CUDA runtime (and libstdc++), so the
# binary runs as is on a machine with only the NVIDIA driver.
#   benchmarks/gpu/build.sh            (NVCC, CXX, CUDA_HOME, JOBS and OUT override the defaults)
set -euo pipefail
cd "$(dirname "$0")/../.."
NVCC=${NVCC:-nvcc}
CXX=${CXX:-g++}
CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v "$NVCC")")")")}
[ -f "$CUDA_HOME/lib64/libcudart_static.a" ] || CUDA_HOME=/usr/local/cuda
JOBS=${JOBS:-2}
OUT=${OUT:-benchmarks/gpu/bin}
OBJ=$OUT/obj
mkdir -p "$OBJ"
CXXFLAGS="-O3 -std=c++17 -Inative/include -Inative -DKILN_HAVE_AVX2_TU=1 -DKILN_WITH_CUDA=1"
NVFLAGS="-std=c++17 -O3 -fmad=false -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 -Inative/include -Inative -DKILN_WITH_CUDA=1"
jobs_list=()
for f in native/common/thread_pool.cc native/common/rng.cc native/common/simd.cc native/binning/binning.cc \
         native/gbdt/gbdt.cc native/gbdt/predict.cc; do
  jobs_list+=("$CXX $CXXFLAGS -c $f -o $OBJ/$(basename "$f" .cc).o")
done
for f in native/binning/binning_avx2.cc native/gbdt/predict_avx2.cc; do
  jobs_list+=("$CXX $CXXFLAGS -mavx2 -mfma -c $f -o $OBJ/$(basename "$f" .cc).o")
done
for f in native/gbdt/gbdt.cu native/gbdt/predict.cu benchmarks/gpu/harness.cu; do
  jobs_list+=("$NVCC $NVFLAGS -c $f -o $OBJ/$(basename "$f" .cu).cu.o")
done
printf '%s\n' "${jobs_list[@]}" | xargs -P "$JOBS" -I{} sh -c '{}'
$CXX -o $OUT/kiln-gpu-harness $OBJ/*.o -L"$CUDA_HOME/lib64" -lcudart_static -ldl -lrt -lpthread -static-libstdc++ -static-libgcc
echo "built $OUT/kiln-gpu-harness"
