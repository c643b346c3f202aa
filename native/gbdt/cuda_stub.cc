// The cuda_impl entry points of a build without CUDA: each throws E_NO_GPU (GPU discovery
// reports no devices). Linked instead of gbdt.cu / predict.cu when KILN_CUDA is not 1.
#include <memory>
#include <vector>

#include "gbdt/device_backend.h"
#include "kiln/gpu.h"
#include "kiln/status.h"

namespace kiln {
namespace {
[[noreturn]] void NoGpu() {
  throw Error(kErrNoGpu,
              "device 'cuda' needs the CUDA build of kiln, and this one was built without CUDA: "
              "rebuild with KILN_CUDA=1 npm install (or npm run build:cuda), or use device 'cpu'");
}
}  // namespace

bool CudaCompiled() noexcept { return false; }
std::vector<GpuInfo> ListGpus() noexcept { return {}; }

namespace gbdt::cuda_impl {
std::unique_ptr<DeviceBackend> MakeTrainBackend(const DeviceTrainSetup&) { NoGpu(); }
void PredictMargin(const Forest&, const MatrixView&, int, double*) { NoGpu(); }
}  // namespace gbdt::cuda_impl

}  // namespace kiln
