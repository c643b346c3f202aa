// kiln.node module init: the raw exports mirrored 1:1 by bindings/native.d.ts.
#include <napi.h>

#include <string>
#include <thread>
#include <vector>

#include "kiln/binning.h"
#include "kiln/gpu.h"
#include "kiln/simd.h"
#include "kiln/thread_pool.h"
#include "napi/errors.h"

#ifndef KILN_VERSION
#define KILN_VERSION "0.1.0"
#endif
#ifndef KILN_WITH_CUDA
#define KILN_WITH_CUDA 0
#endif

namespace kiln::napi {

// Defined in binning_worker.cc.
Napi::Value FitBinsJs(const Napi::CallbackInfo& info);
Napi::Value ApplyBinsJs(const Napi::CallbackInfo& info);
// Defined in scan_worker.cc.
Napi::Value ScanOpenJs(const Napi::CallbackInfo& info);
Napi::Value ScanNextJs(const Napi::CallbackInfo& info);
Napi::Value ScanCloseJs(const Napi::CallbackInfo& info);
// Defined in gbdt_worker.cc.
Napi::Value CancelTokenJs(const Napi::CallbackInfo& info);
Napi::Value CancelJs(const Napi::CallbackInfo& info);
Napi::Value GbdtTrainJs(const Napi::CallbackInfo& info);
Napi::Value GbdtPredictorJs(const Napi::CallbackInfo& info);
Napi::Value GbdtPredictJs(const Napi::CallbackInfo& info);
Napi::Value GbdtPredictRowJs(const Napi::CallbackInfo& info);
Napi::Value GbdtImportanceJs(const Napi::CallbackInfo& info);
Napi::Value GbdtDebugHistogramJs(const Napi::CallbackInfo& info);
// Defined in linear_worker.cc.
Napi::Value FitLinearJs(const Napi::CallbackInfo& info);
Napi::Value PredictLinearJs(const Napi::CallbackInfo& info);
// Defined in mlp_worker.cc.
Napi::Value FitMlpJs(const Napi::CallbackInfo& info);
Napi::Value PredictMlpJs(const Napi::CallbackInfo& info);
// Defined in hashing_worker.cc.
Napi::Value TextHashJs(const Napi::CallbackInfo& info);
Napi::Value NormalizeTextJs(const Napi::CallbackInfo& info);
Napi::Value MurmurHash3Js(const Napi::CallbackInfo& info);
// Defined in drift_worker.cc.
Napi::Value DriftNumericJs(const Napi::CallbackInfo& info);
Napi::Value DriftSortJs(const Napi::CallbackInfo& info);
Napi::Value DriftBinCountsJs(const Napi::CallbackInfo& info);
Napi::Value DriftCountsSyncJs(const Napi::CallbackInfo& info);
Napi::Value KsPValueSyncJs(const Napi::CallbackInfo& info);
Napi::Value KolmogorovSfSyncJs(const Napi::CallbackInfo& info);
Napi::Value ChiSquareSfSyncJs(const Napi::CallbackInfo& info);
// Defined in rolling_worker.cc.
Napi::Value RollingCreateJs(const Napi::CallbackInfo& info);
Napi::Value RollingProcessJs(const Napi::CallbackInfo& info);
Napi::Value FeaturePipelineJs(const Napi::CallbackInfo& info);

namespace {

// JS: nativeInfo() -> {version, simdLevel, cudaCompiled, hardwareConcurrency,
//                     gpus: [{name, memoryBytes, computeCapability}]} (gpus never throws)
Napi::Value NativeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", Napi::String::New(env, KILN_VERSION));
  out.Set("simdLevel", Napi::String::New(env, SimdLevelName(DetectedSimdLevel())));
  out.Set("cudaCompiled", Napi::Boolean::New(env, KILN_WITH_CUDA != 0));
  out.Set("hardwareConcurrency", Napi::Number::New(env, HardwareConcurrency()));
  const std::vector<GpuInfo> gpus = ListGpus();
  Napi::Array list = Napi::Array::New(env, gpus.size());
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    Napi::Object g = Napi::Object::New(env);
    g.Set("name", Napi::String::New(env, gpus[i].name));
    g.Set("memoryBytes", Napi::Number::New(env, static_cast<double>(gpus[i].memory_bytes)));
    g.Set("computeCapability", Napi::String::New(env, std::to_string(gpus[i].major) + "." + std::to_string(gpus[i].minor)));
    list.Set(static_cast<std::uint32_t>(i), g);
  }
  out.Set("gpus", list);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  GetAddonData(env);
  exports.Set("fitBins", Napi::Function::New(env, FitBinsJs, "fitBins"));
  exports.Set("applyBins", Napi::Function::New(env, ApplyBinsJs, "applyBins"));
  exports.Set("rollingCreate", Napi::Function::New(env, RollingCreateJs, "rollingCreate"));
  exports.Set("rollingProcess", Napi::Function::New(env, RollingProcessJs, "rollingProcess"));
  exports.Set("featurePipeline", Napi::Function::New(env, FeaturePipelineJs, "featurePipeline"));
  exports.Set("scanOpen", Napi::Function::New(env, ScanOpenJs, "scanOpen"));
  exports.Set("scanNext", Napi::Function::New(env, ScanNextJs, "scanNext"));
  exports.Set("scanClose", Napi::Function::New(env, ScanCloseJs, "scanClose"));
  exports.Set("cancelToken", Napi::Function::New(env, CancelTokenJs, "cancelToken"));
  exports.Set("cancel", Napi::Function::New(env, CancelJs, "cancel"));
  exports.Set("gbdtTrain", Napi::Function::New(env, GbdtTrainJs, "gbdtTrain"));
  exports.Set("gbdtPredictor", Napi::Function::New(env, GbdtPredictorJs, "gbdtPredictor"));
  exports.Set("gbdtPredict", Napi::Function::New(env, GbdtPredictJs, "gbdtPredict"));
  exports.Set("gbdtPredictRow", Napi::Function::New(env, GbdtPredictRowJs, "gbdtPredictRow"));
  exports.Set("gbdtImportance", Napi::Function::New(env, GbdtImportanceJs, "gbdtImportance"));
  exports.Set("gbdtDebugHistogram", Napi::Function::New(env, GbdtDebugHistogramJs, "gbdtDebugHistogram"));
  exports.Set("fitLinear", Napi::Function::New(env, FitLinearJs, "fitLinear"));
  exports.Set("predictLinear", Napi::Function::New(env, PredictLinearJs, "predictLinear"));
  exports.Set("fitMlp", Napi::Function::New(env, FitMlpJs, "fitMlp"));
  exports.Set("predictMlp", Napi::Function::New(env, PredictMlpJs, "predictMlp"));
  exports.Set("textHash", Napi::Function::New(env, TextHashJs, "textHash"));
  exports.Set("normalizeText", Napi::Function::New(env, NormalizeTextJs, "normalizeText"));
  exports.Set("murmurHash3", Napi::Function::New(env, MurmurHash3Js, "murmurHash3"));
  exports.Set("driftNumeric", Napi::Function::New(env, DriftNumericJs, "driftNumeric"));
  exports.Set("driftSort", Napi::Function::New(env, DriftSortJs, "driftSort"));
  exports.Set("driftBinCounts", Napi::Function::New(env, DriftBinCountsJs, "driftBinCounts"));
  exports.Set("driftCountsSync", Napi::Function::New(env, DriftCountsSyncJs, "driftCountsSync"));
  exports.Set("ksPValueSync", Napi::Function::New(env, KsPValueSyncJs, "ksPValueSync"));
  exports.Set("kolmogorovSfSync", Napi::Function::New(env, KolmogorovSfSyncJs, "kolmogorovSfSync"));
  exports.Set("chiSquareSfSync", Napi::Function::New(env, ChiSquareSfSyncJs, "chiSquareSfSync"));
  exports.Set("nativeInfo", Napi::Function::New(env, NativeInfo, "nativeInfo"));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("MISSING_BIN", Napi::Number::New(env, kMissingBin));
  return exports;
}

}  // namespace
}  // namespace kiln::napi

static Napi::Object InitKiln(Napi::Env env, Napi::Object exports) {
  return kiln::napi::Init(env, exports);
}

NODE_API_MODULE(kiln, InitKiln)
