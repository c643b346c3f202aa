# Build settings shared by every kiln native target (included from binding.gyp).
# Release: -O3, C++17, hidden visibility, C++ exceptions on (NAPI_CPP_EXCEPTIONS), warnings clean
# under -Wall -Wextra. Never -ffast-math: NaN means missing and must survive comparisons.
{
  'target_defaults': {
    'default_configuration': 'Release',
    'include_dirs': [
      'native/include',
      'native',
    ],
    'defines': [
      'NAPI_VERSION=8',
      'NAPI_CPP_EXCEPTIONS',
      'NODE_ADDON_API_DISABLE_DEPRECATED',
    ],
    'cflags': [ '-fPIC', '-fvisibility=hidden', '-Wall', '-Wextra' ],
    'cflags!': [ '-fno-exceptions', '-Wno-unused-parameter' ],
    'cflags_cc': [ '-std=c++17', '-fvisibility-inlines-hidden' ],
    'cflags_cc!': [ '-fno-exceptions', '-fno-rtti', '-std=gnu++17' ],
    'ldflags': [ '-fPIC' ],
    'xcode_settings': {
      'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
      'GCC_ENABLE_CPP_RTTI': 'YES',
      'GCC_SYMBOLS_PRIVATE_EXTERN': 'YES',
      'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
      'MACOSX_DEPLOYMENT_TARGET': '11.0',
      'OTHER_CFLAGS': [ '-Wall', '-Wextra' ],
    },
    'msvs_settings': {
      'VCCLCompilerTool': {
        'ExceptionHandling': 1,
        'AdditionalOptions': [ '/std:c++17' ],
      },
    },
    'configurations': {
      'Release': {
        'cflags': [ '-O3' ],
        'cflags!': [ '-O2', '-O0', '-g' ],
        'xcode_settings': { 'GCC_OPTIMIZATION_LEVEL': '3' },
      },
      'Debug': {
        'cflags': [ '-O0', '-g' ],
      },
    },
  },
}
