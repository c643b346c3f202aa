# kiln native addon -> build/Release/kiln.node
#   kiln_cuda%  0|1, defaults to env KILN_CUDA (only sets KILN_WITH_CUDA for now; no .cu files yet)
#   kiln_avx2   a static library holding the one translation unit built with -mavx2 -mfma (x64 only);
#               everything else is portable and dispatches at run time (native/common/simd.cc).
#   common.gypi (project root) is picked up automatically by node-gyp's configure step.
{
  'variables': {
    'kiln_cuda%': '<!(node -p "process.env.KILN_CUDA === \'1\' ? 1 : 0")',
    'kiln_version%': '<!(node -p "require(\'./package.json\').version")',
  },
  'conditions': [
    [ 'target_arch=="x64"', {
      'targets': [
        {
          'target_name': 'kiln_avx2',
          'type': 'static_library',
          'sources': [ 'native/binning/binning_avx2.cc', 'native/common/training_avx2.cc' ],
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
        'native/features/rolling.cc',
        'native/napi/addon.cc',
        'native/napi/errors.cc',
        'native/napi/binning_worker.cc',
        'native/napi/scan_worker.cc',
        'native/napi/gbdt_worker.cc',
        'native/napi/linear_worker.cc',
        'native/napi/mlp_worker.cc',
        'native/napi/hashing_worker.cc',
        'native/napi/rolling_worker.cc',
      ],
      'include_dirs': [
        '<!(node -p "require(\'node-addon-api\').include_dir")',
      ],
      'defines': [
        'KILN_VERSION="<(kiln_version)"',
      ],
      'conditions': [
        [ 'kiln_cuda==1', { 'defines': [ 'KILN_WITH_CUDA=1' ] }, { 'defines': [ 'KILN_WITH_CUDA=0' ] } ],
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
