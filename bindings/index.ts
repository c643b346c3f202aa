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
  RawFitLinearOptions,
  RawFitMlpOptions,
  RawLinearFit,
  RawLinearModel,
  RawMlpFit,
  RawMlpModel,
  RawMlpValid,
  RawNativeInfo,
  RawProgressCallback,
  RawScanBatch,
  RawScanHandle,
  RawTrainProgress,
  RawSparseRows,
  RawTextHashOptions,
  RawNumericDrift,
  RawBinnedDrift,
  RawRollingBatch,
  RawFeaturePipelineSpec,
  RawFeaturePipelineProgress,
  RawFeaturePipelineResult,
  RawRollingFeature,
  RawRollingHandle,
  RawRollingResult,
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
  /** CUDA devices usable by this addon (always empty in a build without CUDA). */
  gpus: { name: string; memoryBytes: number; computeCapability: string }[];
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

/** Version, SIMD level, CUDA build flag, GPUs and hardware concurrency of the addon. */
export function nativeInfo(): NativeInfo {
  const info: RawNativeInfo = loadAddon().nativeInfo();
  return { ...info, gpus: Array.isArray(info.gpus) ? info.gpus.map((g) => ({ ...g })) : [] };
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

/** A new cancellation token (gbdtTrain, featurePipeline). */
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

// ---------------------------------------------------------------------------------------------
// Training hooks (cancellation, progress) shared by the linear and MLP trainers

/** Progress report of a native training: one per L-BFGS iteration (linear) or epoch (mlp). */
export type TrainProgress = RawTrainProgress;

/** Optional cancellation and progress hooks of a training call. */
export interface TrainHooks {
  /** Aborting it stops training at the next iteration / mini-batch: the promise rejects with E_CANCELLED. */
  signal?: AbortSignal;
  /** Called on the JS thread after each iteration / epoch; if it throws, training stops and fit rejects with that error. */
  onProgress?: (progress: TrainProgress) => void;
}

function cancelledError(op: string): KilnError {
  return new KilnError('E_CANCELLED', `${op}: training was cancelled`);
}

/** Runs a native training with a cancel flag wired to hooks.signal and a guarded progress callback. */
async function withTrainingHooks<T>(op: string, hooks: TrainHooks | undefined, start: (cancelFlag: Int32Array, onProgress: RawProgressCallback | undefined) => Promise<T>): Promise<T> {
  const h = hooks ?? {};
  if (h.signal !== undefined && !(h.signal instanceof AbortSignal)) throw inputError(op, `signal must be an AbortSignal (got ${typeName(h.signal)})`);
  if (h.onProgress !== undefined && typeof h.onProgress !== 'function') throw inputError(op, `onProgress must be a function (got ${typeName(h.onProgress)})`);
  if (h.signal?.aborted) throw cancelledError(op);
  const flag = new Int32Array(1);
  const abort = (): void => {
    Atomics.store(flag, 0, 1);
  };
  let progressError: { error: unknown } | undefined;
  const user = h.onProgress;
  const onProgress: RawProgressCallback | undefined =
    user === undefined
      ? undefined
      : (p) => {
          if (progressError !== undefined) return;
          try {
            user({ ...p });
          } catch (error) {
            progressError = { error };
            abort();
          }
        };
  h.signal?.addEventListener('abort', abort, { once: true });
  try {
    return await start(flag, onProgress);
  } catch (err) {
    if (progressError !== undefined) throw progressError.error;
    if (isKilnErrorCode(err, 'E_CANCELLED')) throw cancelledError(op);
    throw err;
  } finally {
    h.signal?.removeEventListener('abort', abort);
  }
}

function isKilnErrorCode(err: unknown, code: string): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === code;
}

function checkNumber(op: string, name: string, v: unknown, min: number, max: number, minExclusive = false): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (minExclusive ? v > min : v >= min) && v <= max;
  if (!ok) {
    const got = typeof v === 'number' ? String(v) : typeName(v);
    throw inputError(op, `options.${name} must be a finite number in ${minExclusive ? '(' : '['}${min}, ${max}] (got ${got})`);
  }
  return v as number;
}

function checkFiniteVector(op: string, name: string, v: unknown, length?: number): Float64Array {
  if (!isTag(v, 'Float64Array')) throw inputError(op, `${name} must be a Float64Array (got ${typeName(v)})`);
  const a = v as Float64Array;
  if (length !== undefined && a.length !== length) throw inputError(op, `${name} has ${a.length} entries, expected ${length}`);
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw inputError(op, `${name}[${i}] is not finite`);
  return a;
}

// ---------------------------------------------------------------------------------------------
// Logistic regression

/** Largest number of classes of a linear or MLP model. */
export const MAX_CLASSES = 1024;

/** Options of fitLinear (shape + optimiser; see RawFitLinearOptions). */
export interface FitLinearOptions extends MatrixOptions {
  numClass: number;
  /** Inverse L2 strength (scikit-learn's C), default 1. */
  C?: number;
  /** Default 'l2'. */
  penalty?: 'l2' | 'none';
  /** Default 1000. */
  maxIter?: number;
  /** Max-abs gradient of the per-row objective to stop at, default 1e-8. */
  tol?: number;
  /** L-BFGS correction pairs, default 10. */
  memory?: number;
}

const FIT_LINEAR_KEYS = ['rows', 'cols', 'layout', 'numThreads', 'numClass', 'C', 'penalty', 'maxIter', 'tol', 'memory'] as const;
const PREDICT_KEYS = ['rows', 'cols', 'layout', 'numThreads'] as const;

/** Fitted logistic regression plus its optimisation report. */
export type LinearFit = RawLinearFit;
/** Parameters of a logistic regression (standardised space). */
export type LinearModelArrays = RawLinearModel;

/**
 * Fits logistic regression off the JS thread (L-BFGS on standardised features; objective and
 * missing-value rule in native/include/kiln/linear.h). Deterministic for any numThreads.
 * `values` and `labels` must not be detached or resized until the promise settles.
 */
export async function fitLinear(values: FloatArray, labels: Int32Array, classWeights: Float64Array, options: FitLinearOptions, hooks?: TrainHooks): Promise<LinearFit> {
  const op = 'fitLinear';
  const { values: arr, opts, matrix } = checkMatrix(op, values, options, FIT_LINEAR_KEYS);
  const numClass = checkInt(op, 'numClass', opts.numClass, 2, MAX_CLASSES);
  const raw: RawFitLinearOptions = {
    ...matrix,
    numClass,
    C: checkNumber(op, 'C', opts.C ?? 1, 0, Number.MAX_VALUE, true),
    penalty: checkEnum(op, 'penalty', opts.penalty ?? 'l2', ['l2', 'none'] as const),
    maxIter: checkInt(op, 'maxIter', opts.maxIter ?? 1000, 1, 1_000_000),
    tol: checkNumber(op, 'tol', opts.tol ?? 1e-8, 0, Number.MAX_VALUE, true),
    memory: checkInt(op, 'memory', opts.memory ?? 10, 1, 1000),
  };
  if (!isTag(labels, 'Int32Array')) throw inputError(op, `labels must be an Int32Array (got ${typeName(labels)})`);
  if (labels.length !== matrix.rows) throw inputError(op, `labels.length is ${labels.length} but options.rows = ${matrix.rows}`);
  const weights = checkFiniteVector(op, 'classWeights', classWeights, numClass);
  for (let k = 0; k < numClass; k++) if (!(weights[k]! > 0)) throw inputError(op, `classWeights[${k}] must be > 0`);
  return withTrainingHooks(op, hooks, (flag, onProgress) => loadAddon().fitLinear(arr, labels, weights, raw, flag, onProgress));
}

/** Throws E_NATIVE_INPUT unless `model` is a consistent logistic regression for `cols` features. */
function checkLinearModel(op: string, model: unknown, cols: number): RawLinearModel {
  if (model === null || typeof model !== 'object') throw inputError(op, `model must be an object (got ${typeName(model)})`);
  const m = model as Record<string, unknown>;
  const numClass = checkInt(op, 'model.numClass', m.numClass, 2, MAX_CLASSES);
  const rows = numClass === 2 ? 1 : numClass;
  return {
    numClass,
    mean: checkFiniteVector(op, 'model.mean', m.mean, cols),
    scale: checkFiniteVector(op, 'model.scale', m.scale, cols),
    coef: checkFiniteVector(op, 'model.coef', m.coef, rows * cols),
    intercept: checkFiniteVector(op, 'model.intercept', m.intercept, rows),
  };
}

/** Probabilities of a logistic regression: rows P(class 1) (binary) or rows * numClass, row-major. */
export async function predictLinear(values: FloatArray, options: MatrixOptions, model: LinearModelArrays): Promise<Float64Array> {
  const op = 'predictLinear';
  const { values: arr, matrix } = checkMatrix(op, values, options, PREDICT_KEYS);
  const m = checkLinearModel(op, model, matrix.cols);
  return loadAddon().predictLinear(arr, matrix, m);
}

// ---------------------------------------------------------------------------------------------
// MLP

/** Options of fitMlp (see RawFitMlpOptions; defaults as in src/models/mlp.ts). */
export interface FitMlpOptions extends MatrixOptions {
  objective: 'binary' | 'multiclass' | 'regression';
  numClass: number;
  hiddenLayers: readonly number[];
  dropout?: number;
  learningRate?: number;
  l2?: number;
  batchSize?: number;
  epochs?: number;
  patience?: number;
  validationFraction?: number;
  seed?: number;
}

/** Validation rows of fitMlp: a matrix (same columns as the training one) and its targets. */
export interface MlpValidData {
  values: FloatArray;
  targets: Float64Array;
  rows: number;
  cols: number;
  layout?: Layout;
}

const FIT_MLP_KEYS = ['rows', 'cols', 'layout', 'numThreads', 'objective', 'numClass', 'hiddenLayers', 'dropout', 'learningRate', 'l2', 'batchSize', 'epochs', 'patience', 'validationFraction', 'seed'] as const;

/** Fitted MLP plus its training history. */
export type MlpFit = RawMlpFit;
/** Parameters of an MLP. */
export type MlpModelArrays = RawMlpModel;

/** Largest hidden layer width and count of an MLP. */
export const MLP_MAX_WIDTH = 4096;
export const MLP_MAX_HIDDEN_LAYERS = 3;

/**
 * Fits an MLP off the JS thread (Adam, dropout, early stopping keeping the best epoch).
 * Deterministic for any numThreads under one seed. Arrays must not be detached or resized until
 * the promise settles.
 */
export async function fitMlp(values: FloatArray, targets: Float64Array, options: FitMlpOptions, valid?: MlpValidData | null, hooks?: TrainHooks): Promise<MlpFit> {
  const op = 'fitMlp';
  const { values: arr, opts, matrix } = checkMatrix(op, values, options, FIT_MLP_KEYS);
  const objective = checkEnum(op, 'objective', opts.objective, ['binary', 'multiclass', 'regression'] as const);
  const numClass = checkInt(op, 'numClass', opts.numClass, objective === 'regression' ? 1 : 2, objective === 'regression' ? 1 : objective === 'binary' ? 2 : MAX_CLASSES);
  const hidden = opts.hiddenLayers;
  if (!Array.isArray(hidden) || hidden.length < 1 || hidden.length > MLP_MAX_HIDDEN_LAYERS) {
    throw inputError(op, `options.hiddenLayers must be an array of 1 to ${MLP_MAX_HIDDEN_LAYERS} widths (got ${typeName(hidden)}${Array.isArray(hidden) ? ` of length ${hidden.length}` : ''})`);
  }
  hidden.forEach((w, i) => checkInt(op, `hiddenLayers[${i}]`, w, 1, MLP_MAX_WIDTH));
  const raw: RawFitMlpOptions = {
    ...matrix,
    objective,
    numClass,
    hiddenLayers: Int32Array.from(hidden as number[]),
    dropout: checkNumber(op, 'dropout', opts.dropout ?? 0, 0, 0.999999),
    learningRate: checkNumber(op, 'learningRate', opts.learningRate ?? 1e-3, 0, Number.MAX_VALUE, true),
    l2: checkNumber(op, 'l2', opts.l2 ?? 0, 0, Number.MAX_VALUE),
    batchSize: checkInt(op, 'batchSize', opts.batchSize ?? 128, 1, 1 << 24),
    epochs: checkInt(op, 'epochs', opts.epochs ?? 100, 1, 1_000_000),
    patience: checkInt(op, 'patience', opts.patience ?? 0, 0, 1_000_000),
    validationFraction: checkNumber(op, 'validationFraction', opts.validationFraction ?? 0, 0, 0.999999),
    seed: checkInt(op, 'seed', opts.seed ?? 0, 0, Number.MAX_SAFE_INTEGER),
  };
  if (!isTag(targets, 'Float64Array')) throw inputError(op, `targets must be a Float64Array (got ${typeName(targets)})`);
  if (targets.length !== matrix.rows) throw inputError(op, `targets.length is ${targets.length} but options.rows = ${matrix.rows}`);
  let rawValid: RawMlpValid | null = null;
  if (valid !== undefined && valid !== null) {
    if (raw.validationFraction > 0) throw inputError(op, 'give valid rows or options.validationFraction, not both');
    const v = checkMatrix(`${op} (valid)`, valid.values, { rows: valid.rows, cols: valid.cols, layout: valid.layout ?? 'column' }, ['rows', 'cols', 'layout']);
    if (v.matrix.cols !== matrix.cols) throw inputError(op, `valid has ${v.matrix.cols} columns, the training matrix has ${matrix.cols}`);
    if (!isTag(valid.targets, 'Float64Array')) throw inputError(op, `valid.targets must be a Float64Array (got ${typeName(valid.targets)})`);
    if (valid.targets.length !== v.matrix.rows) throw inputError(op, `valid.targets.length is ${valid.targets.length} but valid.rows = ${v.matrix.rows}`);
    rawValid = { values: v.values, targets: valid.targets, rows: v.matrix.rows, cols: v.matrix.cols, layout: v.matrix.layout };
  }
  return withTrainingHooks(op, hooks, (flag, onProgress) => loadAddon().fitMlp(arr, targets, raw, rawValid, flag, onProgress));
}

/** Throws E_NATIVE_INPUT unless `model` is a consistent MLP for `cols` features. */
function checkMlpModel(op: string, model: unknown, cols: number): RawMlpModel {
  if (model === null || typeof model !== 'object') throw inputError(op, `model must be an object (got ${typeName(model)})`);
  const m = model as Record<string, unknown>;
  const objective = checkEnum(op, 'model.objective', m.objective, ['binary', 'multiclass', 'regression'] as const);
  const numClass = checkInt(op, 'model.numClass', m.numClass, 1, MAX_CLASSES);
  const outputs = objective === 'multiclass' ? numClass : 1;
  if (!Array.isArray(m.layers) || m.layers.length < 2 || m.layers.length > MLP_MAX_HIDDEN_LAYERS + 1) {
    throw inputError(op, `model.layers must be an array of 2 to ${MLP_MAX_HIDDEN_LAYERS + 1} layers`);
  }
  let inputs = cols;
  const layers = (m.layers as unknown[]).map((layer, i) => {
    if (layer === null || typeof layer !== 'object') throw inputError(op, `model.layers[${i}] must be an object`);
    const l = layer as Record<string, unknown>;
    const lin = checkInt(op, `model.layers[${i}].inputs`, l.inputs, inputs, inputs);
    const lout = checkInt(op, `model.layers[${i}].outputs`, l.outputs, 1, Math.max(MLP_MAX_WIDTH, MAX_CLASSES));
    inputs = lout;
    return {
      inputs: lin,
      outputs: lout,
      weights: checkFiniteVector(op, `model.layers[${i}].weights`, l.weights, lin * lout),
      biases: checkFiniteVector(op, `model.layers[${i}].biases`, l.biases, lout),
    };
  });
  if (inputs !== outputs) throw inputError(op, `model output layer has ${inputs} units, expected ${outputs}`);
  return {
    objective,
    numClass,
    mean: checkFiniteVector(op, 'model.mean', m.mean, cols),
    scale: checkFiniteVector(op, 'model.scale', m.scale, cols),
    targetMean: checkNumber(op, 'model.targetMean', m.targetMean, -Number.MAX_VALUE, Number.MAX_VALUE),
    targetScale: checkNumber(op, 'model.targetScale', m.targetScale, 0, Number.MAX_VALUE, true),
    layers,
  };
}

/** MLP predictions: rows values (binary P(class 1), regression) or rows * numClass probabilities. */
export async function predictMlp(values: FloatArray, options: MatrixOptions, model: MlpModelArrays): Promise<Float64Array> {
  const op = 'predictMlp';
  const { values: arr, matrix } = checkMatrix(op, values, options, PREDICT_KEYS);
  const m = checkMlpModel(op, model, matrix.cols);
  return loadAddon().predictMlp(arr, matrix, m);
}

// ---------------------------------------------------------------------------------------------
// Text hashing

/** Largest bits of textHash (2^12 buckets). */
export const MAX_HASH_BITS = 12;

/** Options of textHash. */
export interface TextHashOptions {
  /** 2^bits buckets, 1..12 (default 8). */
  bits?: number;
  /** MurmurHash3 seed, 0..2^32-1 (default 0). */
  seed?: number;
  /** Also hash adjacent token pairs (default false). */
  bigrams?: boolean;
  /** L2-normalise each row after weighting (default false). */
  l2?: boolean;
  /** Per-bucket weights (2^bits, finite, >= 0), e.g. IDF; default none (raw counts). */
  idf?: Float64Array | null;
  /** Default 'auto'; output is identical either way. */
  simd?: SimdMode;
  /** Kernel threads, default 0 = hardware concurrency. Output never depends on it. */
  numThreads?: number;
}

/** Hashed rows in CSR form (see RawSparseRows). */
export type SparseRows = RawSparseRows;

const TEXT_HASH_KEYS = ['bits', 'seed', 'bigrams', 'l2', 'idf', 'simd', 'numThreads'] as const;

/**
 * Normalises (lowercase ASCII, digits and punctuation separate tokens), tokenises and hashes a
 * utf8 column (Arrow layout: bytes, rows + 1 offsets, optional LSB-first validity; null rows are
 * empty) into 2^bits buckets with a seeded MurmurHash3, off the JS thread. The column is copied
 * before the call returns.
 */
export async function textHash(column: { values: Uint8Array; offsets: Int32Array; validity: Uint8Array | null; rows: number }, options: TextHashOptions = {}): Promise<SparseRows> {
  const op = 'textHash';
  if (options === null || typeof options !== 'object') throw inputError(op, `options must be an object (got ${typeName(options)})`);
  checkKeys(op, options, TEXT_HASH_KEYS);
  if (!isTag(column?.values, 'Uint8Array')) throw inputError(op, `column.values must be a Uint8Array (got ${typeName(column?.values)})`);
  if (!isTag(column.offsets, 'Int32Array')) throw inputError(op, `column.offsets must be an Int32Array (got ${typeName(column.offsets)})`);
  if (column.validity !== null && !isTag(column.validity, 'Uint8Array')) throw inputError(op, `column.validity must be a Uint8Array or null (got ${typeName(column.validity)})`);
  const rows = checkInt(op, 'rows', column.rows, 0, 2 ** 31 - 2);
  if (column.offsets.length < rows + 1) throw inputError(op, `column.offsets has ${column.offsets.length} entries, expected rows + 1 = ${rows + 1}`);
  const raw: RawTextHashOptions = {
    rows,
    bits: checkInt(op, 'bits', options.bits ?? 8, 1, MAX_HASH_BITS),
    seed: checkInt(op, 'seed', options.seed ?? 0, 0, 0xffffffff),
    bigrams: Boolean(options.bigrams),
    l2: Boolean(options.l2),
    simd: checkEnum<SimdMode>(op, 'simd', options.simd ?? 'auto', ['auto', 'scalar']),
    numThreads: checkInt(op, 'numThreads', options.numThreads ?? 0, 0, MAX_THREADS),
  };
  const idf = options.idf ?? null;
  if (idf !== null) {
    checkFiniteVector(op, 'options.idf', idf, 2 ** raw.bits);
    for (let i = 0; i < idf.length; i++) if (idf[i]! < 0) throw inputError(op, `options.idf[${i}] must be >= 0`);
  }
  return loadAddon().textHash(column.values, column.offsets, column.validity, raw, idf);
}

/** Streaming window/lag/cross feature state (see rollingCreate). */
export type RollingHandle = RawRollingHandle;
export type { RawRollingFeature as RollingFeature, RawRollingBatch as RollingBatch, RawRollingResult as RollingResult };

/**
 * Creates the state of the streaming window kernel: per-entity windows of `features` over
 * `numInputs` double input columns (and earlier features' outputs), kept across batches.
 */
export function rollingCreate(features: RawRollingFeature[], numInputs: number): RollingHandle {
  const op = 'rollingCreate';
  if (!Array.isArray(features)) throw inputError(op, `features must be an array (got ${typeName(features)})`);
  checkInt(op, 'numInputs', numInputs, 0, 4096);
  features.forEach((f, i) => {
    if (!(f.input < numInputs + i)) throw inputError(op, `features[${i}].input ${f.input} must name an input column or an earlier feature`);
  });
  return loadAddon().rollingCreate(features, numInputs);
}

/**
 * Feeds one batch (rows ordered by time, then entity id) to the kernel off the JS thread and
 * resolves with the rows it finished. Pass final = true with the last batch (it may be empty).
 */
export function rollingProcess(handle: RollingHandle, batch: RawRollingBatch, final: boolean, numThreads = 0): Promise<RawRollingResult> {
  const op = 'rollingProcess';
  checkInt(op, 'numThreads', numThreads, 0, MAX_THREADS);
  if (batch.inputs.length !== batch.validity.length) throw inputError(op, 'batch.inputs and batch.validity must have the same length');
  return loadAddon().rollingProcess(handle, batch, final, numThreads);
}

export type { RawFeaturePipelineSpec as FeaturePipelineSpec, RawFeaturePipelineResult as FeaturePipelineResult, RawFeaturePipelineProgress as FeaturePipelineProgress };

/**
 * Runs a one-pass native feature build: spec.inputSql streams out of a fresh DuckDB database into
 * the rolling kernel, whose rows feed spec.outputSql (e.g. a COPY to Parquet) through a table
 * function; nothing passes through JS. Rejects with the kernel's codes (E_VALIDATION "rows: ..."
 * for a missing time or a duplicated entity and time), E_IO for DuckDB, E_CANCELLED on cancel.
 * onProgress hears each pass start, its rows written every ~200 ms, and each pass's last count.
 */
export function featurePipeline(spec: RawFeaturePipelineSpec, cancel: CancelToken | null = null, onProgress: ((p: RawFeaturePipelineProgress) => void) | null = null): Promise<RawFeaturePipelineResult> {
  const op = 'featurePipeline';
  checkInt(op, 'numInputs', spec.numInputs, 0, 4096);
  checkInt(op, 'threads', spec.threads, 1, MAX_THREADS);
  if (spec.streamThreads !== undefined) checkInt(op, 'streamThreads', spec.streamThreads, 1, MAX_THREADS);
  checkInt(op, 'kernelThreads', spec.kernelThreads, 0, MAX_THREADS);
  checkInt(op, 'batchRows', spec.batchRows, 1, 2 ** 24);
  spec.features.forEach((f, i) => {
    if (!(f.input < spec.numInputs + i)) throw inputError(op, `features[${i}].input ${f.input} must name an input column or an earlier feature`);
  });
  if (!spec.outputSql.includes('{fn}')) throw inputError(op, 'outputSql must read the table function {fn}');
  return loadAddon().featurePipeline(spec, cancel, onProgress);
}

/** The normalised text of a string as textHash sees it (tokens joined by one space). */
export function normalizeText(text: string): string {
  if (typeof text !== 'string') throw inputError('normalizeText', `text must be a string (got ${typeName(text)})`);
  return loadAddon().normalizeText(text);
}

/** MurmurHash3_x86_32 (unsigned) of a string's UTF-8 bytes or of raw bytes. */
export function murmurHash3(data: string | Uint8Array, seed = 0): number {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  if (!isTag(bytes, 'Uint8Array')) throw inputError('murmurHash3', `data must be a string or Uint8Array (got ${typeName(data)})`);
  checkInt('murmurHash3', 'seed', seed, 0, 0xffffffff);
  return loadAddon().murmurHash3(bytes, seed);
}

// ---------------------------------------------------------------------------------------------
// Drift

/** Largest nBins of the drift kernels. */
export const MAX_DRIFT_BINS = 1000;

/** Options of driftNumeric. */
export interface DriftNumericOptions {
  /** Reference-quantile bins per feature, 2..1000 (default 10). */
  nBins?: number;
  /** Proportion used for empty bins in PSI and KL, in (0, 1) (default 1e-4). */
  epsilon?: number;
  /** Also compute Wasserstein-1 (default false). */
  wasserstein?: boolean;
  /** Reference columns are Float64Array, ascending and NaN-free (as driftSort returns them); checked. */
  referenceSorted?: boolean;
  /** Let the kernel sort Float64Array inputs in place (saves a copy; their contents are unspecified afterwards). */
  mutateInputs?: boolean;
  /** Kernel threads (parallel over features), default 0 = hardware concurrency. Results never depend on it. */
  numThreads?: number;
}

/** Per-feature numeric drift results (see RawNumericDrift). */
export type NumericDriftArrays = RawNumericDrift;
/** Per-feature binned statistics of count vectors. */
export type BinnedDriftArrays = RawBinnedDrift;

const DRIFT_KEYS = ['nBins', 'epsilon', 'wasserstein', 'referenceSorted', 'mutateInputs', 'numThreads'] as const;

function checkColumns(op: string, name: string, columns: unknown): FloatArray[] {
  if (!Array.isArray(columns)) throw inputError(op, `${name} must be an array of Float32Array/Float64Array (got ${typeName(columns)})`);
  columns.forEach((c, i) => {
    if (!isTag(c, 'Float32Array') && !isTag(c, 'Float64Array')) throw inputError(op, `${name}[${i}] must be a Float32Array or Float64Array (got ${typeName(c)})`);
  });
  return columns as FloatArray[];
}

/**
 * Two-sample drift statistics of ref[f] vs cur[f] for every feature, off the JS thread and parallel
 * over features: KS statistic and SciPy-equal asymptotic p-value, PSI / KL / JS / chi-square over
 * reference-quantile bins, optionally Wasserstein-1. NaN = missing (counted, left out).
 */
export async function driftNumeric(ref: FloatArray[], cur: FloatArray[], options: DriftNumericOptions = {}): Promise<NumericDriftArrays> {
  const op = 'driftNumeric';
  if (options === null || typeof options !== 'object') throw inputError(op, `options must be an object (got ${typeName(options)})`);
  checkKeys(op, options, DRIFT_KEYS);
  const r = checkColumns(op, 'reference', ref);
  const c = checkColumns(op, 'current', cur);
  if (r.length !== c.length) throw inputError(op, `reference has ${r.length} columns but current has ${c.length}`);
  const raw = {
    nBins: checkInt(op, 'nBins', options.nBins ?? 10, 2, MAX_DRIFT_BINS),
    epsilon: checkNumber(op, 'epsilon', options.epsilon ?? 1e-4, 0, 0.999999, true),
    wasserstein: Boolean(options.wasserstein),
    referenceSorted: Boolean(options.referenceSorted),
    mutateInputs: Boolean(options.mutateInputs),
    numThreads: checkInt(op, 'numThreads', options.numThreads ?? 0, 0, MAX_THREADS),
  };
  if (raw.referenceSorted) r.forEach((a, i) => { if (!isTag(a, 'Float64Array')) throw inputError(op, `a sorted reference must be Float64Array (column ${i})`); });
  return loadAddon().driftNumeric(r, c, raw);
}

/** The non-missing values of each column sorted ascending (new Float64Arrays). */
export async function driftSort(columns: FloatArray[], numThreads = 0): Promise<Float64Array[]> {
  const cols = checkColumns('driftSort', 'columns', columns);
  checkInt('driftSort', 'numThreads', numThreads, 0, MAX_THREADS);
  return loadAddon().driftSort(cols, numThreads);
}

/** Bin counts of each column against its strictly increasing edges (bin = #{e < v}); missing count last. */
export async function driftBinCounts(columns: FloatArray[], edges: Float64Array[], numThreads = 0): Promise<Float64Array[]> {
  const op = 'driftBinCounts';
  const cols = checkColumns(op, 'columns', columns);
  if (!Array.isArray(edges) || edges.length !== cols.length) throw inputError(op, `edges must be an array of ${cols.length} Float64Arrays`);
  checkInt(op, 'numThreads', numThreads, 0, MAX_THREADS);
  const offsets = new Int32Array(cols.length + 1);
  edges.forEach((e, i) => {
    if (!isTag(e, 'Float64Array')) throw inputError(op, `edges[${i}] must be a Float64Array (got ${typeName(e)})`);
    offsets[i + 1] = offsets[i]! + e.length;
  });
  const flat = new Float64Array(offsets[cols.length]!);
  edges.forEach((e, i) => flat.set(e, offsets[i]!));
  const out = await loadAddon().driftBinCounts(cols, flat, offsets, numThreads);
  return cols.map((_, i) => out.counts.slice(out.offsets[i]!, out.offsets[i + 1]!));
}

/** PSI / KL / JS / chi-square of per-feature count vectors (ref[f] and cur[f] of equal length). */
export function driftCounts(ref: Float64Array[], cur: Float64Array[], epsilon = 1e-4): BinnedDriftArrays {
  const op = 'driftCounts';
  if (!Array.isArray(ref) || !Array.isArray(cur) || ref.length !== cur.length) throw inputError(op, 'ref and cur must be arrays of the same length');
  checkNumber(op, 'epsilon', epsilon, 0, 0.999999, true);
  const offsets = new Int32Array(ref.length + 1);
  ref.forEach((r, i) => {
    const c = cur[i];
    if (!isTag(r, 'Float64Array') || !isTag(c, 'Float64Array')) throw inputError(op, `counts of feature ${i} must be Float64Arrays`);
    if (r.length !== c!.length) throw inputError(op, `feature ${i}: ${r.length} reference bins but ${c!.length} current bins`);
    offsets[i + 1] = offsets[i]! + r.length;
  });
  const rf = new Float64Array(offsets[ref.length]!);
  const cf = new Float64Array(offsets[ref.length]!);
  ref.forEach((r, i) => { rf.set(r, offsets[i]!); cf.set(cur[i]!, offsets[i]!); });
  return loadAddon().driftCountsSync(rf, cf, offsets, epsilon);
}

/** Two-sided asymptotic p-value of SciPy's ks_2samp(method='asymp') for statistic d and sample sizes n1, n2. */
export function ksPValue(d: number, n1: number, n2: number): number {
  checkNumber('ksPValue', 'd', d, 0, 1);
  checkInt('ksPValue', 'n1', n1, 1, Number.MAX_SAFE_INTEGER);
  checkInt('ksPValue', 'n2', n2, 1, Number.MAX_SAFE_INTEGER);
  return loadAddon().ksPValueSync(d, n1, n2);
}

/** Survival function of the two-sided one-sample Kolmogorov statistic D_n (SciPy kstwo.sf(x, n)). */
export function kolmogorovSf(n: number, x: number): number {
  checkInt('kolmogorovSf', 'n', n, 1, Number.MAX_SAFE_INTEGER);
  if (typeof x !== 'number' || Number.isNaN(x)) throw inputError('kolmogorovSf', 'x must be a number');
  return loadAddon().kolmogorovSfSync(n, x);
}

/** Chi-square survival function chi2.sf(x, dof). */
export function chiSquareSf(x: number, dof: number): number {
  if (typeof x !== 'number' || Number.isNaN(x)) throw inputError('chiSquareSf', 'x must be a number');
  checkNumber('chiSquareSf', 'dof', dof, 0, Number.MAX_VALUE, true);
  return loadAddon().chiSquareSfSync(x, dof);
}
