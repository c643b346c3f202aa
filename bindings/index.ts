/**
 * The one loader of the native addon (build/Release/kiln.node) and its validated TS API.
 * Options are validated and defaulted here, then passed as plain data; the addon validates again.
 * The addon is loaded lazily on first use, so importing this module never fails.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { KilnError } from './errors.js';
import type {
  RawCancelToken,
  RawPredictorHandle,
  RawForest,
  RawTrainedForest,
  RawGbdtParams,
  RawIterationInfo,
  RawTrainResult,
  RawShape,
  NativeAddon,
  RawApplyBinsOptions,
  RawBinMapper,
  RawFitBinsOptions,
  RawNativeInfo,
  RawScanBatch,
  RawScanHandle,
} from './native.js';

/** Bin code of missing (NaN) values; value bins are 0..254. */
export const MISSING_BIN = 255;
/** Largest maxBin (value bins per feature). */
export const MAX_BIN_LIMIT = 255;
/** Default sample size of fitBins. */
export const DEFAULT_SAMPLE_SIZE = 200_000;
/** Largest numThreads accepted. */
export const MAX_THREADS = 256;

/** Matrix layout: 'column' = values[f * rows + r] (feature-major), 'row' = values[r * cols + f]. */
export type Layout = 'column' | 'row';
/** Dense float matrix storage. */
export type FloatArray = Float32Array | Float64Array;
/** SIMD path selection: 'auto' = best available (AVX2 unless KILN_SIMD=scalar), 'scalar' = portable. */
export type SimdMode = 'auto' | 'scalar';

/** Shape, layout and threads of a dense matrix argument. */
export interface MatrixOptions {
  /** Number of rows (>= 1). */
  rows: number;
  /** Number of features (>= 1); rows * cols must equal values.length. */
  cols: number;
  /** Default 'column'. */
  layout?: Layout;
  /** Kernel threads; default 0 = hardware concurrency. Results never depend on it. */
  numThreads?: number;
}

/** Options of fitBins. */
export interface FitBinsOptions extends MatrixOptions {
  /** Value bins per feature, 2..255 (default 255). */
  maxBin?: number;
  /** Rows used to find cuts; more rows are sampled deterministically (default 200000). */
  sampleSize?: number;
  /** Seed of the row sample (default 0). */
  seed?: number;
}

/** Options of applyBins. */
export interface ApplyBinsOptions extends MatrixOptions {
  /** Default 'auto'; output is identical either way. */
  simd?: SimdMode;
}

/**
 * Per-feature bin thresholds. Feature f has numBins[f] value bins and the numBins[f] - 1 strictly
 * increasing thresholds thresholds[offsets[f] .. offsets[f+1]); bin(v) = #{t : t < v}, NaN -> 255.
 */
export interface BinMapper {
  numBins: Int32Array;
  thresholds: Float64Array;
  offsets: Int32Array;
}

/** Build and machine facts of the loaded addon. */
export interface NativeInfo {
  version: string;
  simdLevel: 'avx2' | 'scalar';
  cudaCompiled: boolean;
  hardwareConcurrency: number;
}

// ---------------------------------------------------------------------------------------------
// Loading

let cached: NativeAddon | undefined;

/** Paths tried, in order: $KILN_ADDON_PATH alone when set, else build/Release next to the sources
 * (bindings/) and next to the compiled output (dist/bindings/). */
export function addonCandidates(): string[] {
  const override = process.env.KILN_ADDON_PATH;
  if (override !== undefined && override !== '') return [override];
  return [
    fileURLToPath(new URL('../build/Release/kiln.node', import.meta.url)),
    fileURLToPath(new URL('../../build/Release/kiln.node', import.meta.url)),
  ];
}

function loadAddon(): NativeAddon {
  if (cached !== undefined) return cached;
  const candidates = addonCandidates();
  const found = candidates.find((p) => existsSync(p));
  const fromEnv = process.env.KILN_ADDON_PATH !== undefined && process.env.KILN_ADDON_PATH !== '';
  if (found === undefined) {
    throw new KilnError(
      'E_NATIVE_MISSING',
      `kiln native addon not found (looked for ${candidates.join(', ')}). ` +
        (fromEnv
          ? 'KILN_ADDON_PATH points to a missing file: fix or unset it, or build the addon with `npm run build:native`.'
          : 'Build it with `npm run build:native` (needs a C++17 compiler and python3).'),
      { candidates },
    );
  }
  let mod: NativeAddon;
  try {
    mod = createRequire(import.meta.url)(found) as NativeAddon;
  } catch (err) {
    throw new KilnError(
      'E_NATIVE_MISSING',
      `kiln native addon at ${found} could not be loaded: ${(err as Error).message}. ` +
        'Rebuild it for this Node.js with `npm run build:native`.',
      { path: found },
    );
  }
  if (typeof mod?.setErrorClass !== 'function' || typeof mod.fitBins !== 'function') {
    throw new KilnError(
      'E_NATIVE_MISSING',
      `${found} could not be loaded as the kiln native addon (unexpected exports). ` +
        'Rebuild it with `npm run build:native`' + (fromEnv ? ' or fix KILN_ADDON_PATH.' : '.'),
      { path: found },
    );
  }
  mod.setErrorClass(KilnError);
  cached = mod;
  return mod;
}

/** True when the addon can be loaded (never throws). */
export function nativeAvailable(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}

/** Path of the loaded addon file (loads it if needed). */
export function addonPath(): string {
  loadAddon();
  return addonCandidates().find((p) => existsSync(p))!;
}

/** True when the addon loads and exports the DuckDB scan (never throws). */
export function nativeScanAvailable(): boolean {
  return nativeAvailable() && typeof loadAddon().scanOpen === 'function';
}

/** Opaque handle of a running native scan. */
export type ScanHandle = RawScanHandle;
/** One batch of a native scan (buffers adopted from C++). */
export type ScanBatchBuffers = RawScanBatch;

/** Default DuckDB stream buffer of a native scan: lets DuckDB decode ahead on all cores. */
export const DEFAULT_STREAM_BUFFER_BYTES = 32 << 20;

/** Starts streaming a DuckDB query natively; `kinds` are the planned column kind codes (0..7). */
export function scanOpen(libraryPath: string, sql: string, kinds: Int32Array, threads = 0, streamBufferBytes = DEFAULT_STREAM_BUFFER_BYTES, reuseBuffers = false): Promise<ScanHandle> {
  if (typeof libraryPath !== 'string' || libraryPath === '') throw inputError('scanOpen', 'libraryPath must be a non-empty string');
  if (typeof sql !== 'string' || sql === '') throw inputError('scanOpen', 'sql must be a non-empty string');
  if (!isTag(kinds, 'Int32Array') || kinds.length === 0) throw inputError('scanOpen', 'kinds must be a non-empty Int32Array');
  checkInt('scanOpen', 'threads', threads, 0, MAX_THREADS);
  checkInt('scanOpen', 'streamBufferBytes', streamBufferBytes, 0, 2 ** 40);
  if (typeof reuseBuffers !== 'boolean') throw inputError('scanOpen', 'reuseBuffers must be a boolean');
  return loadAddon().scanOpen(libraryPath, sql, kinds, threads, streamBufferBytes, reuseBuffers);
}

/** The next batch of at most `capacity` rows, or null when the query is exhausted. */
export function scanNext(handle: ScanHandle, capacity: number): Promise<ScanBatchBuffers | null> {
  checkInt('scanNext', 'capacity', capacity, 1, 1 << 24);
  return loadAddon().scanNext(handle, capacity);
}

/** Ends a scan early (idempotent). */
export function scanClose(handle: ScanHandle): void {
  loadAddon().scanClose(handle);
}

/** Test-only: the raw addon exports, bypassing TS validation. Throws E_NATIVE_MISSING if absent. */
export function rawAddon(): NativeAddon {
  return loadAddon();
}

/** Version, SIMD level, CUDA build flag and hardware concurrency of the addon. */
export function nativeInfo(): NativeInfo {
  const info: RawNativeInfo = loadAddon().nativeInfo();
  return { ...info };
}

// ---------------------------------------------------------------------------------------------
// Validation (mirrors the C++ checks, with messages naming the option)

function inputError(op: string, message: string): KilnError {
  return new KilnError('E_NATIVE_INPUT', `${op}: ${message}`);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  if (ArrayBuffer.isView(v)) return Object.prototype.toString.call(v).slice(8, -1);
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

function isTag(v: unknown, tag: string): boolean {
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === `[object ${tag}]`;
}

function checkFloatArray(op: string, values: unknown): FloatArray {
  if (!isTag(values, 'Float32Array') && !isTag(values, 'Float64Array')) {
    throw inputError(op, `values must be a Float32Array or Float64Array (got ${typeName(values)})`);
  }
  return values as FloatArray;
}

function checkInt(op: string, name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const got = typeof v === 'number' ? String(v) : typeName(v);
    throw inputError(op, `options.${name} must be an integer in [${min}, ${max}] (got ${got})`);
  }
  return v;
}

function checkEnum<T extends string>(op: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    const got = typeof v === 'string' ? `'${v}'` : typeName(v);
    throw inputError(op, `options.${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (got ${got})`);
  }
  return v as T;
}

function checkKeys(op: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw inputError(op, `unknown option '${key}' (allowed: ${allowed.join(', ')})`);
    }
  }
}

function checkMatrix(
  op: string,
  values: unknown,
  options: unknown,
  allowedKeys: readonly string[],
): { values: FloatArray; opts: Record<string, unknown>; matrix: { rows: number; cols: number; layout: Layout; numThreads: number } } {
  const arr = checkFloatArray(op, values);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw inputError(op, `options must be an object (got ${typeName(options)})`);
  }
  const opts = options as Record<string, unknown>;
  checkKeys(op, opts, allowedKeys);
  const rows = checkInt(op, 'rows', opts.rows, 1, Number.MAX_SAFE_INTEGER);
  const cols = checkInt(op, 'cols', opts.cols, 1, Number.MAX_SAFE_INTEGER);
  const layout = checkEnum<Layout>(op, 'layout', opts.layout ?? 'column', ['column', 'row']);
  const numThreads = checkInt(op, 'numThreads', opts.numThreads ?? 0, 0, MAX_THREADS);
  if (rows * cols !== arr.length) {
    throw inputError(op, `values.length is ${arr.length} but options.rows * options.cols = ${rows} * ${cols} = ${rows * cols}`);
  }
  return { values: arr, opts, matrix: { rows, cols, layout, numThreads } };
}

/** Throws KilnError('E_NATIVE_INPUT') unless `mapper` is a consistent BinMapper for `cols` features. */
export function validateBinMapper(mapper: unknown, cols: number, op = 'applyBins'): asserts mapper is BinMapper {
  if (mapper === null || typeof mapper !== 'object') {
    throw inputError(op, `mapper must be an object (got ${typeName(mapper)})`);
  }
  const m = mapper as Record<string, unknown>;
  if (!isTag(m.numBins, 'Int32Array')) throw inputError(op, `mapper.numBins must be an Int32Array (got ${typeName(m.numBins)})`);
  if (!isTag(m.thresholds, 'Float64Array')) throw inputError(op, `mapper.thresholds must be a Float64Array (got ${typeName(m.thresholds)})`);
  if (!isTag(m.offsets, 'Int32Array')) throw inputError(op, `mapper.offsets must be an Int32Array (got ${typeName(m.offsets)})`);
  const numBins = m.numBins as Int32Array;
  const thresholds = m.thresholds as Float64Array;
  const offsets = m.offsets as Int32Array;
  if (numBins.length !== cols) throw inputError(op, `mapper.numBins has ${numBins.length} entries, expected cols = ${cols}`);
  if (offsets.length !== cols + 1) throw inputError(op, `mapper.offsets has ${offsets.length} entries, expected cols + 1 = ${cols + 1}`);
  if (offsets[0] !== 0) throw inputError(op, 'mapper.offsets[0] must be 0');
  for (let f = 0; f < cols; f++) {
    const lo = offsets[f]!;
    const hi = offsets[f + 1]!;
    if (hi < lo) throw inputError(op, `mapper.offsets must be non-decreasing (offsets[${f + 1}] < offsets[${f}])`);
    if (hi - lo > MAX_BIN_LIMIT - 1) throw inputError(op, `feature ${f} has ${hi - lo} thresholds, at most ${MAX_BIN_LIMIT - 1} allowed`);
    if (hi > thresholds.length) throw inputError(op, `mapper.offsets[${f + 1}] is past the end of mapper.thresholds`);
    if (numBins[f] !== hi - lo + 1) {
      throw inputError(op, `mapper.numBins[${f}] = ${numBins[f]} but feature has ${hi - lo} thresholds (expected numBins = thresholds + 1)`);
    }
    for (let j = lo; j < hi; j++) {
      const t = thresholds[j]!;
      if (Number.isNaN(t)) throw inputError(op, `mapper.thresholds[${j}] is NaN`);
      if (j > lo && !(thresholds[j - 1]! < t)) {
        throw inputError(op, `mapper.thresholds of feature ${f} must be strictly increasing (at index ${j})`);
      }
    }
  }
  if (offsets[cols] !== thresholds.length) {
    throw inputError(op, `mapper.offsets[cols] = ${offsets[cols]} but mapper.thresholds has ${thresholds.length} entries`);
  }
}

// ---------------------------------------------------------------------------------------------
// Binning

const FIT_KEYS = ['rows', 'cols', 'layout', 'numThreads', 'maxBin', 'sampleSize', 'seed'] as const;
const APPLY_KEYS = ['rows', 'cols', 'layout', 'numThreads', 'simd'] as const;

/**
 * Learns quantile bin thresholds per feature (off the JS thread). Deterministic: the same data,
 * options and seed give the same mapper for any numThreads and either layout. `values` must not be
 * detached or resized until the promise settles.
 */
export async function fitBins(values: FloatArray, options: FitBinsOptions): Promise<BinMapper> {
  const op = 'fitBins';
  const { values: arr, opts, matrix } = checkMatrix(op, values, options, FIT_KEYS);
  const raw: RawFitBinsOptions = {
    ...matrix,
    maxBin: checkInt(op, 'maxBin', opts.maxBin ?? MAX_BIN_LIMIT, 2, MAX_BIN_LIMIT),
    sampleSize: checkInt(op, 'sampleSize', opts.sampleSize ?? DEFAULT_SAMPLE_SIZE, 1, Number.MAX_SAFE_INTEGER),
    seed: checkInt(op, 'seed', opts.seed ?? 0, 0, Number.MAX_SAFE_INTEGER),
  };
  const mapper: RawBinMapper = await loadAddon().fitBins(arr, raw);
  return { numBins: mapper.numBins, thresholds: mapper.thresholds, offsets: mapper.offsets };
}

/**
 * Bins `values` with `mapper` into a new COLUMN-major Uint8Array (out[f * rows + r]); NaN ->
 * MISSING_BIN. Output is identical for any numThreads and simd mode. `values` must not be
 * detached or resized until the promise settles.
 */
export async function applyBins(values: FloatArray, options: ApplyBinsOptions, mapper: BinMapper): Promise<Uint8Array> {
  const op = 'applyBins';
  const { values: arr, opts, matrix } = checkMatrix(op, values, options, APPLY_KEYS);
  const raw: RawApplyBinsOptions = {
    ...matrix,
    simd: checkEnum<SimdMode>(op, 'simd', opts.simd ?? 'auto', ['auto', 'scalar']),
  };
  validateBinMapper(mapper, matrix.cols, op);
  return loadAddon().applyBins(arr, raw, mapper);
}

// ---------------------------------------------------------------------------------------------
// Gradient-boosted trees (raw: src/models/gbdt.ts validates every option before calling these)

export type CancelToken = RawCancelToken;
export type PredictorHandle = RawPredictorHandle;
export type { RawForest, RawTrainedForest, RawGbdtParams, RawIterationInfo, RawTrainResult, RawShape };

/** A new cancellation token for gbdtTrain. */
export function cancelToken(): CancelToken {
  return loadAddon().cancelToken();
}

/** Stops every op holding the token (they reject with E_CANCELLED). */
export function cancelOp(token: CancelToken): void {
  loadAddon().cancel(token);
}

/** Trains a forest off the JS thread (arrays borrowed until the promise settles). */
export function gbdtTrain(values: FloatArray, shape: RawShape, labels: Float64Array, valid: { values: FloatArray; shape: RawShape; labels: Float64Array } | null, params: RawGbdtParams, onProgress: ((info: RawIterationInfo) => void) | null, token: CancelToken): Promise<RawTrainResult> {
  return loadAddon().gbdtTrain(values, shape, labels, valid?.values ?? null, valid?.shape ?? null, valid?.labels ?? null, params, onProgress, token);
}

/** Validates and compiles a forest for prediction; throws E_NATIVE_INPUT on a malformed forest. */
export function gbdtPredictor(forest: RawForest): PredictorHandle {
  return loadAddon().gbdtPredictor(forest);
}

/** Batch prediction: rows * treesPerIteration margins or outputs. */
export function gbdtPredict(handle: PredictorHandle, values: FloatArray, shape: RawShape, options: { numTrees: number; numThreads: number; transform: 0 | 1; objective: RawGbdtParams['objective'] }): Promise<Float64Array> {
  return loadAddon().gbdtPredict(handle, values, shape, options);
}

/** The raw synchronous row predictor (bound once by the model; no per-call validation here). */
export function gbdtPredictRowFunction(): NativeAddon['gbdtPredictRow'] {
  return loadAddon().gbdtPredictRow;
}

/** Split count and total gain per feature. */
export function gbdtImportance(handle: PredictorHandle, numTrees: number): { splits: Float64Array; gain: Float64Array } {
  return loadAddon().gbdtImportance(handle, numTrees);
}
