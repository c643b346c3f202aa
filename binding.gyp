# kiln native addon -> build/Release/kiln.node
#   kiln_cuda%  0|1, defaults to env KILN_CUDA. 1: native/gbdt/*.cu are compiled by nvcc (sm_90 code
#               plus compute_90 PTX, -fmad=false so device arithmetic rounds like the CPU's) and
#               linked with the static CUDA runtime; 0: native/gbdt/cuda_stub.cc (E_NO_GPU).
#   kiln_nvcc%  the nvcc to use (env KILN_NVCC, default nvcc on PATH); kiln_cuda_home% the toolkit
#               root holding lib64/libcudart_static.a (env CUDA_HOME, default /usr/local/cuda).
#   kiln_avx2   a static library holding the one translation unit built with -mavx2 -mfma (x64 only);
#               everything else is portable and dispatches at run time (native/common/simd.cc).
#   common.gypi (project root) is picked up automatically by node-gyp's configure step.
{
  'variables': {
    'kiln_cuda%': '<!(node -p "process.env.KILN_CUDA === \'1\' ? 1 : 0")',
    'kiln_version%': '<!(node -p "require(\'./package.json\').version")',
    'kiln_nvcc%': '<!(node -p "process.env.KILN_NVCC || \'nvcc\'")',
    'kiln_cuda_home%': '<!(node -p "process.env.CUDA_HOME || process.env.CUDA_PATH || \'/usr/local/cuda\'")',
  },
  'conditions': [
    [ 'target_arch=="x64"', {
      'targets': [
        {
          'target_name': 'kiln_avx2',
          'type': 'static_library',
          'sources': [ 'native/binning/binning_avx2.cc', 'native/common/training_avx2.cc', 'native/gbdt/predict_avx2.cc' ],
          'defines': [ 'KILN_HAVE_AVX2_TU=1' ],
          'cflags': [ '-mavx2', '-mfma' ],
          'xcode_settings': { 'OTHER_CFLAGS': [ '-mavx2', '-mfma' ] },
          'msvs_settings': { 'VCCLCompilerTool': { 'EnableEnhancedInstructionSet': '5' } },
        },
      ],
    } ],
  ],
  'targets': [
    {
      'target_name': 'kiln',
      'sources': [
        'native/common/thread_pool.cc',
        'native/common/rng.cc',
        'native/common/simd.cc',
        'native/binning/binning.cc',
        'native/common/training.cc',
        'native/linear/linear.cc',
        'native/mlp/mlp.cc',
        'native/scan/duckdb_scan.cc',
        'native/gbdt/gbdt.cc',
        'native/gbdt/predict.cc',
        'native/hashing/text_hash.cc',
        'native/drift/drift.cc',
        'native/drift/ks_distribution.cc',
        'native/features/rolling.cc',
        'native/napi/feature_pipeline.cc',
        'native/napi/addon.cc',
        'native/napi/errors.cc',
        'native/napi/binning_worker.cc',
        'native/napi/scan_worker.cc',
        'native/napi/gbdt_worker.cc',
        'native/napi/linear_worker.cc',
        'native/napi/mlp_worker.cc',
        'native/napi/hashing_worker.cc',
        'native/napi/drift_worker.cc',
        'native/napi/rolling_worker.cc',
      ],
      'include_dirs': [
        '<!(node -p "require(\'node-addon-api\').include_dir")',
      ],
      'defines': [
        'KILN_VERSION="<(kiln_version)"',
      ],
      'conditions': [
        [ 'kiln_cuda==1', {
          'defines': [ 'KILN_WITH_CUDA=1' ],
          'sources': [ 'native/gbdt/gbdt.cu', 'native/gbdt/predict.cu' ],
          'rules': [
            {
              'rule_name': 'nvcc',
              'extension': 'cu',
              'inputs': [ 'native/gbdt/device_backend.h', 'native/include/kiln/gpu.h', 'native/include/kiln/gbdt.h' ],
              'outputs': [ '<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).cu.o' ],
              'action': [
                '<(kiln_nvcc)', '-std=c++17', '-O3', '-fmad=false',
                '-gencode', 'arch=compute_90,code=sm_90', '-gencode', 'arch=compute_90,code=compute_90',
                '-Xcompiler', '-fPIC', '-Xcompiler', '-fvisibility=hidden',
                '-Inative/include', '-Inative', '-DKILN_WITH_CUDA=1',
                '-c', '<(RULE_INPUT_PATH)', '-o', '<@(_outputs)',
              ],
              'message': 'NVCC <(RULE_INPUT_PATH)',
              'process_outputs_as_sources': 1,
            },
          ],
          'libraries': [ '-L<(kiln_cuda_home)/lib64', '-lcudart_static', '-lrt' ],
        }, {
          'defines': [ 'KILN_WITH_CUDA=0' ],
          'sources': [ 'native/gbdt/cuda_stub.cc' ],
        } ],
        [ 'target_arch=="x64"', {
          'dependencies': [ 'kiln_avx2' ],
          'defines': [ 'KILN_HAVE_AVX2_TU=1' ],
        }, {
          'defines': [ 'KILN_HAVE_AVX2_TU=0' ],
        } ],
        [ 'OS=="linux"', { 'libraries': [ '-lpthread', '-ldl' ] } ],
      ],
    },
  ],
}
