/**
 * 1:1 typed mirror of the raw exports of build/Release/kiln.node (native/napi/addon.cc).
 * Only bindings/index.ts loads the addon; everything else uses its validated wrappers.
 * The raw functions require every option (no defaults) and validate everything again in C++:
 * bad input throws (synchronously) a KilnError with code 'E_NATIVE_INPUT'.
 */

import type { KilnErrorCode } from './errors.js';

/** Matrix layout: 'column' = values[f * rows + r] (feature-major), 'row' = values[r * cols + f]. */
export type RawLayout = 'column' | 'row';

/** Dense float matrix storage accepted by the kernels. */
export type RawFloatArray = Float32Array | Float64Array;

/** Matrix shape and threading, shared by the binning ops. */
export interface RawMatrixOptions {
  /** Integer in [1, 2^53-1]; rows * cols must equal values.length. */
  rows: number;
  /** Integer in [1, 2^53-1]. */
  cols: number;
  layout: RawLayout;
  /** Integer in [0, 256]; 0 = hardware concurrency. */
  numThreads: number;
}

/** Options of fitBins (all required at this level). */
export interface RawFitBinsOptions extends RawMatrixOptions {
  /** Value bins per feature, integer in [2, 255]. */
  maxBin: number;
  /** Integer >= 1: rows <= sampleSize use every row, else ~sampleSize rows are sampled. */
  sampleSize: number;
  /** Integer in [0, 2^53-1]; drives the row sample. */
  seed: number;
}

/** Options of applyBins (all required at this level). */
export interface RawApplyBinsOptions extends RawMatrixOptions {
  /** 'auto' = best available (AVX2 unless KILN_SIMD=scalar), 'scalar' = portable path. */
  simd: 'auto' | 'scalar';
}

/** Per-feature thresholds; feature f owns thresholds[offsets[f] .. offsets[f+1]). */
export interface RawBinMapper {
  /** cols entries: value bins of each feature (= its threshold count + 1, in [1, 255]). */
  numBins: Int32Array;
  /** Concatenated, strictly increasing within a feature, never NaN. */
  thresholds: Float64Array;
  /** cols + 1 entries, offsets[0] = 0, non-decreasing, offsets[cols] = thresholds.length. */
  offsets: Int32Array;
}

/** Build and machine facts of the loaded addon. */
export interface RawNativeInfo {
  version: string;
  simdLevel: 'avx2' | 'scalar';
  cudaCompiled: boolean;
  hardwareConcurrency: number;
  /** CUDA devices the runtime sees (empty without CUDA, a driver or a GPU). */
  gpus: RawGpuInfo[];
}

/** One CUDA device. */
export interface RawGpuInfo {
  name: string;
  memoryBytes: number;
  /** "major.minor", e.g. "9.0". */
  computeCapability: string;
}

/** Constructor the addon uses for every error it raises (KilnError). */
export type RawErrorClass = new (code: KilnErrorCode, message: string) => Error;

/** Opaque handle of a running DuckDB scan (an External owning the native scanner). */
export type RawScanHandle = { readonly __brand: 'KilnScanHandle' };

/** One column of a scanned batch: buffers in the layout of its kind (see KIND codes in scanOpen). */
export interface RawScanColumn {
  /** Fixed-width kinds: capacity-sized, the first `rows` values are the batch; utf8: exactly the bytes. */
  values: ArrayBuffer;
  /** utf8 only: rows + 1 Int32 offsets. */
  offsets?: ArrayBuffer;
  /** LSB-first validity bitmap, null when the batch has no nulls in this column. */
  validity: ArrayBuffer | null;
  nullCount: number;
}

/** A scanned batch of 1..capacity rows. */
export interface RawScanBatch {
  rows: number;
  columns: RawScanColumn[];
}

/** Progress report of a native training (one per L-BFGS iteration or MLP epoch). */
export interface RawTrainProgress {
  /** 1-based iteration (linear) or epoch (mlp). */
  iteration: number;
  /** Objective (linear) or mean training loss of the epoch (mlp). */
  trainLoss: number | null;
  /** Validation loss of the epoch (mlp with validation rows), else null. */
  validLoss: number | null;
  /** Max-abs gradient of the objective (linear), else null. */
  gradNorm: number | null;
}

/** Called on the JS thread with each progress report; errors it throws are ignored natively. */
export type RawProgressCallback = (progress: RawTrainProgress) => void;

/** Options of fitLinear (all required at this level). */
export interface RawFitLinearOptions extends RawMatrixOptions {
  /** Integer in [2, 1024]; labels are 0..numClass-1, every class present. */
  numClass: number;
  /** Inverse L2 strength, finite > 0 (scikit-learn's C). */
  C: number;
  penalty: 'l2' | 'none';
  /** Integer in [1, 1e6]. */
  maxIter: number;
  /** Stop when max |gradient| of the per-row objective <= tol; finite > 0. */
  tol: number;
  /** L-BFGS correction pairs, integer in [1, 1000]. */
  memory: number;
}

/** A fitted logistic regression (standardised space; binary: one coefficient row). */
export interface RawLinearModel {
  numClass: number;
  /** Rows x cols coefficients, row-major (rows = 1 for binary, numClass otherwise). */
  coef: Float64Array;
  intercept: Float64Array;
  mean: Float64Array;
  scale: Float64Array;
}

/** fitLinear's result: the model and how the optimisation went. */
export interface RawLinearFit extends RawLinearModel {
  iterations: number;
  converged: boolean;
  objective: number;
  gradNorm: number;
  /** Objective at the start and after each iteration. */
  history: Float64Array;
}

/** Options of fitMlp (all required at this level). */
export interface RawFitMlpOptions extends RawMatrixOptions {
  objective: 'binary' | 'multiclass' | 'regression';
  /** 2 for binary, classes for multiclass (>= 2), 1 for regression. */
  numClass: number;
  /** 1..3 widths, each in [1, 4096]. */
  hiddenLayers: Int32Array;
  /** Drop probability of hidden units, in [0, 1). */
  dropout: number;
  learningRate: number;
  l2: number;
  batchSize: number;
  epochs: number;
  /** Epochs without a better validation loss before stopping; 0 = never stop early. */
  patience: number;
  /** Without `valid`: share of rows held out for validation, in [0, 1). */
  validationFraction: number;
  /** Integer in [0, 2^53-1]. */
  seed: number;
}

/** Validation rows of fitMlp. */
export interface RawMlpValid extends Omit<RawMatrixOptions, 'numThreads'> {
  values: RawFloatArray;
  targets: Float64Array;
}

/** One dense layer: out[o] = biases[o] + sum_i in[i] * weights[i * outputs + o]. */
export interface RawMlpLayer {
  inputs: number;
  outputs: number;
  weights: Float64Array;
  biases: Float64Array;
}

/** A fitted MLP (hidden ReLU layers then the output layer). */
export interface RawMlpModel {
  objective: 'binary' | 'multiclass' | 'regression';
  numClass: number;
  mean: Float64Array;
  scale: Float64Array;
  targetMean: number;
  targetScale: number;
  layers: RawMlpLayer[];
}

/** fitMlp's result: the model (best epoch's weights when validated) and its history. */
export interface RawMlpFit extends RawMlpModel {
  epochsRun: number;
  bestEpoch: number;
  earlyStopped: boolean;
  trainRows: number;
  validRows: number;
  trainLoss: Float64Array;
  validLoss: Float64Array;
}

/** The raw module object. */
/** Opaque cancellation token (cancelToken()); cancel(token) stops the ops it was given to. */
export type RawCancelToken = { readonly __brand: 'KilnCancelToken' };

/** Opaque compiled forest (gbdtPredictor()). */
export type RawPredictorHandle = { readonly __brand: 'KilnPredictor' };

/** Shape of a dense matrix argument. */
export interface RawShape {
  rows: number;
  cols: number;
  layout: RawLayout;
}

/** A forest, flattened over trees in the model-file layout (schemas/model-gbdt.schema.json). */
export interface RawForest {
  numFeatures: number;
  treesPerIteration: number;
  /** Numeric nodes compare x < threshold (XGBoost) instead of x <= threshold. */
  decisionLt: boolean;
  baseScore: Float64Array;
  /** trees + 1 offsets into the per-node arrays / leafValue / category sets. */
  nodeOffset: Int32Array;
  leafOffset: Int32Array;
  catOffset: Int32Array;
  splitFeature: Int32Array;
  threshold: Float64Array;
  decisionType: Uint8Array;
  leftChild: Int32Array;
  rightChild: Int32Array;
  leafValue: Float64Array;
  /** 8 words (256 bits) per category set. */
  catBits: Uint32Array;
  /** Empty or one per node. */
  splitGain: Float64Array;
}

/** A trained forest as returned by gbdtTrain (with training statistics). */
export interface RawTrainedForest extends RawForest {
  internalCount: Float64Array;
  leafCount: Float64Array;
}

/** gbdtTrain parameters (all required at this level; see src/models/gbdt.ts for meaning). */
export interface RawGbdtParams {
  objective: 'binary' | 'multiclass' | 'regression' | 'huber';
  numClass: number;
  huberDelta: number;
  nEstimators: number;
  learningRate: number;
  numLeaves: number;
  /** 0 = unlimited. */
  maxDepth: number;
  minDataInLeaf: number;
  minSumHessianInLeaf: number;
  lambdaL2: number;
  minGainToSplit: number;
  featureFraction: number;
  baggingFraction: number;
  baggingFreq: number;
  /** Empty, or one weight per class (2 for binary). */
  classWeight: Float64Array;
  scalePosWeight: number;
  /** Empty, or -1/0/+1 per feature. */
  monotone: Int8Array;
  /** Empty, or per feature 0 (numeric) / number of category codes. */
  numCategories: Int32Array;
  earlyStoppingRounds: number;
  metric: 'default' | 'auc';
  seed: number;
  numThreads: number;
  maxBin: number;
  binSampleSize: number;
  /** Where the row-heavy training steps run (absent: 'cpu'); not part of the model. */
  device?: 'cpu' | 'cuda';
}

/** One boosting round's report. */
export interface RawIterationInfo {
  iteration: number;
  trainMetric: number;
  /** NaN without a validation set. */
  validMetric: number;
  rowsPerSecond: number;
  bestIteration: number;
}

/** What gbdtTrain resolves with. */
export interface RawTrainResult {
  forest: RawTrainedForest;
  mapper: RawBinMapper;
  trainMetric: Float64Array;
  validMetric: Float64Array;
  bestIteration: number;
  earlyStopped: boolean;
}

/** Handle of a streaming window state (rollingCreate). */
export type RawRollingHandle = { readonly __brand: 'KilnRolling' };
/** Window / lag / cross feature functions of the streaming kernel. */
export type RawRollingFn = 'mean' | 'std' | 'min' | 'max' | 'sum' | 'zscore' | 'pct_change' | 'momentum' | 'volatility' | 'lag' | 'correlation' | 'spread' | 'ratio';
/** One feature of rollingCreate (all fields required at this level). */
export interface RawRollingFeature {
  name: string;
  fn: RawRollingFn;
  /** Input column index (< numInputs) or numInputs + index of an earlier feature. */
  input: number;
  /** true: windowUs microseconds, (t - w, t] (exclusive: [t - w, t)); false: windowRows rows. */
  timeWindow: boolean;
  windowUs: number;
  /** Rows of a row window; periods of pct_change and lag. */
  windowRows: number;
  exclusive: boolean;
  minPeriods: number;
  /** Cross features: entity id + 1 of the left / right series (0: absent). */
  left: number;
  right: number;
}
/** One batch of rollingProcess, ordered by (time, entity id). */
export interface RawRollingBatch {
  rows: number;
  time: BigInt64Array;
  timeValidity: Uint8Array | null;
  /** Dense entity ids (>= 0) numbered in the entity sort order. */
  entity: Int32Array;
  rowId: BigInt64Array | null;
  inputs: Float64Array[];
  validity: Array<Uint8Array | null>;
}
/** Rows finished by rollingProcess: pass-through keys, one value column and LSB validity bitmap per feature. */
export interface RawRollingResult {
  rows: number;
  time: BigInt64Array;
  entity: Int32Array;
  rowId: BigInt64Array | null;
  values: Float64Array[];
  validity: Uint8Array[];
}
/** A whole native feature build (featurePipeline): DuckDB query -> rolling kernel -> DuckDB statement. */
export interface RawFeaturePipelineSpec {
  /** libduckdb shared library path. */
  library: string;
  /** Statements run first on the build's own in-memory database (SET memory_limit ..., temp_directory ...). */
  settings: string[];
  /** Statements run just before the input is sorted (e.g. a lower memory limit). */
  sortSettings?: string[];
  /** Statements run after the sort, and before it is retried when it ran out of memory under sortSettings. */
  afterSortSettings?: string[];
  /** DuckDB threads when the input must be sorted. */
  threads: number;
  /** DuckDB threads while streaming the input unsorted (default 1: a streamed scan runs on the reader thread). */
  streamThreads?: number;
  /** Yields __t TIMESTAMP, [__e VARCHAR], then numInputs DOUBLE columns, in any order. */
  inputSql: string;
  /** The same rows ORDER BY __t, __e NULLS LAST (used when inputSql's rows are not in that order). */
  orderedSql: string;
  /** Where DuckDB writes orderedSql's rows (Parquet) before they are streamed; removed afterwards. */
  sortedFile: string;
  /** A statement reading `{fn}`, a table function of __e VARCHAR (with an entity), __t TIMESTAMP, __f0.. DOUBLE. */
  outputSql: string;
  hasEntity: boolean;
  numInputs: number;
  /** As rollingCreate; cross features' left / right are crossEntities index + 1 (0: absent). */
  features: RawRollingFeature[];
  crossEntities: string[];
  kernelThreads: number;
  batchRows: number;
}
/** Per-feature statistics of a pipeline run: count / missing over rows; mean, m2 (sum of squared deviations), min, max over the finite values. */
export interface RawFeatureColumnStats {
  count: number;
  missing: number;
  finite: number;
  mean: number;
  m2: number;
  min: number;
  max: number;
}
/** A progress report of featurePipeline: the pass it is in and the rows that pass has written. */
export interface RawFeaturePipelineProgress {
  /** 'stream': the input in its own order; 'sort': DuckDB sorting it (the first pass met a row out of order); 'stream sorted': the sorted copy. */
  phase: 'stream' | 'sort' | 'stream sorted';
  rowsWritten: number;
}
export interface RawFeaturePipelineResult {
  rows: number;
  entities: number;
  /** false when the input was not in (time, entity) order and the build restarted from orderedSql. */
  sortedOnInput: boolean;
  stats: RawFeatureColumnStats[];
}

/** Options of textHash (all required at this level). */
export interface RawTextHashOptions {
  /** Rows of the string column, integer in [0, 2^31-2]; offsets has rows + 1 entries. */
  rows: number;
  /** 2^bits buckets, integer in [1, 12]. */
  bits: number;
  /** MurmurHash3 seed, integer in [0, 2^32-1]. */
  seed: number;
  /** Also hash adjacent token pairs. */
  bigrams: boolean;
  /** L2-normalise each row (after IDF weighting). */
  l2: boolean;
  /** 'auto' = SSE2 normaliser where compiled, 'scalar' = portable loop (same output). */
  simd: 'auto' | 'scalar';
  /** Integer in [0, 256]; 0 = hardware concurrency. Output never depends on it. */
  numThreads: number;
}

/** Hashed rows in CSR form: row r holds indices[indptr[r] .. indptr[r+1]) (ascending, unique). */
export interface RawSparseRows {
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/** Options of driftNumeric (all required at this level). */
export interface RawDriftOptions {
  /** Reference-quantile bins per feature, integer in [2, 1000]. */
  nBins: number;
  /** Proportion used for empty bins, in (0, 1). */
  epsilon: number;
  /** Also compute Wasserstein-1. */
  wasserstein: boolean;
  /** Reference columns are Float64, ascending and NaN-free (checked; missing counts are then 0). */
  referenceSorted: boolean;
  /** The kernel may sort Float64 inputs in place (their contents are unspecified afterwards). */
  mutateInputs: boolean;
  /** Integer in [0, 256]; 0 = hardware concurrency. Results never depend on it. */
  numThreads: number;
}

/** Per-feature results of driftNumeric: one entry per feature in each Float64Array (the binned statistics of RawBinnedDrift, and more). */
export interface RawNumericDrift extends RawBinnedDrift {
  refCount: Float64Array;
  curCount: Float64Array;
  refMissing: Float64Array;
  curMissing: Float64Array;
  ksStatistic: Float64Array;
  ksPValue: Float64Array;
  wasserstein: Float64Array;
  /** Interior bin edges of feature f: edges[edgeOffsets[f] .. edgeOffsets[f+1]). */
  edges: Float64Array;
  edgeOffsets: Int32Array;
  /** Bin counts of feature f: [countOffsets[f] .. countOffsets[f+1]) (edges + 1 bins). */
  refCounts: Float64Array;
  curCounts: Float64Array;
  countOffsets: Int32Array;
}

/** Binned statistics of count vectors (driftCountsSync), one entry per feature. */
export interface RawBinnedDrift {
  psi: Float64Array;
  kl: Float64Array;
  js: Float64Array;
  chi2: Float64Array;
  chi2PValue: Float64Array;
  chi2Dof: Float64Array;
  cramersV: Float64Array;
}

export interface NativeAddon {
  /** KS, binned PSI/KL/JS/chi-square (and Wasserstein-1) of ref[f] vs cur[f]; arrays borrowed until settled. */
  driftNumeric(ref: RawFloatArray[], cur: RawFloatArray[], options: RawDriftOptions): Promise<RawNumericDrift>;
  /** The non-missing values of each column, ascending. */
  driftSort(columns: RawFloatArray[], numThreads: number): Promise<Float64Array[]>;
  /** Counts per bin of each column (edges of column f at edges[edgeOffsets[f]..]), missing count last. */
  driftBinCounts(columns: RawFloatArray[], edges: Float64Array, edgeOffsets: Int32Array, numThreads: number): Promise<{ counts: Float64Array; offsets: Int32Array }>;
  /** PSI/KL/JS/chi-square of count vectors split by offsets. */
  driftCountsSync(refCounts: Float64Array, curCounts: Float64Array, offsets: Int32Array, epsilon: number): RawBinnedDrift;
  /** Two-sided asymptotic p-value of SciPy's ks_2samp(method='asymp'). */
  ksPValueSync(d: number, n1: number, n2: number): number;
  /** SciPy kstwo.sf(x, n). */
  kolmogorovSfSync(n: number, x: number): number;
  /** chi2.sf(x, dof). */
  chiSquareSfSync(x: number, dof: number): number;
  /** A new cancellation token. */
  cancelToken(): RawCancelToken;
  /** Asks every op holding the token to stop (they reject with E_CANCELLED). */
  cancel(token: RawCancelToken): void;
  /** Trains a forest off the JS thread; arrays are borrowed until the promise settles. */
  gbdtTrain(values: RawFloatArray, shape: RawShape, labels: Float64Array, validValues: RawFloatArray | null, validShape: RawShape | null, validLabels: Float64Array | null, params: RawGbdtParams, onProgress: ((info: RawIterationInfo) => void) | null, cancel: RawCancelToken): Promise<RawTrainResult>;
  /** Validates and compiles a forest for prediction. */
  gbdtPredictor(forest: RawForest): RawPredictorHandle;
  /** Margins (transform 0) or outputs (transform 1) of every row: rows * treesPerIteration values. */
  gbdtPredict(handle: RawPredictorHandle, values: RawFloatArray, shape: RawShape, options: { numTrees: number; numThreads: number; transform: 0 | 1; objective: RawGbdtParams['objective'] }): Promise<Float64Array>;
  /** Synchronous, allocation-free margins of one row into out; transform 1 = sigmoid, 2 = softmax (as batch prediction), 0 or omitted = margins. */
  gbdtPredictRow(handle: RawPredictorHandle, row: Float64Array, numTrees: number, out: Float64Array, transform?: 0 | 1 | 2): void;
  /** Split count and total gain per feature over the first numTrees trees. */
  gbdtImportance(handle: RawPredictorHandle, numTrees: number): { splits: Float64Array; gain: Float64Array };
  /** Test hook: packed (g * 2^32 + h) histogram, 256 slots per feature, of row-major bins. */
  gbdtDebugHistogram(binsRowMajor: Uint8Array, rows: number, cols: number, packed: BigInt64Array, rowIndex: Uint32Array): BigInt64Array;
  /**
   * Loads libduckdb from libraryPath (once) and starts streaming `sql`; kinds[i] is the expected
   * kind of column i: 0 bool, 1 int32, 2 int64, 3 float32, 4 float64, 5 date32, 6 timestamp_us, 7 utf8.
   * threads (0 = DuckDB default) and streamBufferBytes (0 = DuckDB default) tune DuckDB's scan-ahead.
   * reuseBuffers: a batch's fixed-width buffers are refilled once the next batch is requested.
   */
  scanOpen(libraryPath: string, sql: string, kinds: Int32Array, threads: number, streamBufferBytes: number, reuseBuffers: boolean): Promise<RawScanHandle>;
  /** The next batch of at most `capacity` rows, or null at the end. One call in flight per handle. */
  scanNext(handle: RawScanHandle, capacity: number): Promise<RawScanBatch | null>;
  /** Ends the scan early and frees the query; later scanNext calls resolve null. */
  scanClose(handle: RawScanHandle): void;
  /** Learns bin thresholds; values are borrowed until the promise settles (do not detach). */
  fitBins(values: RawFloatArray, options: RawFitBinsOptions): Promise<RawBinMapper>;
  /** Bins values into a new column-major Uint8Array (rows * cols, NaN -> MISSING_BIN). */
  applyBins(values: RawFloatArray, options: RawApplyBinsOptions, mapper: RawBinMapper): Promise<Uint8Array>;
  /**
   * Fits logistic regression (L-BFGS); values, labels and cancelFlag are borrowed until the promise
   * settles. Setting cancelFlag[0] to nonzero rejects it with E_CANCELLED.
   */
  fitLinear(values: RawFloatArray, labels: Int32Array, classWeights: Float64Array, options: RawFitLinearOptions, cancelFlag: Int32Array, onProgress?: RawProgressCallback): Promise<RawLinearFit>;
  /** Probabilities: rows values of P(class 1) (binary) or rows * numClass (multinomial). */
  predictLinear(values: RawFloatArray, options: RawMatrixOptions, model: RawLinearModel): Promise<Float64Array>;
  /** Fits an MLP (Adam, early stopping on `valid` or a held-out fraction); borrowing as fitLinear. */
  fitMlp(values: RawFloatArray, targets: Float64Array, options: RawFitMlpOptions, valid: RawMlpValid | null, cancelFlag: Int32Array, onProgress?: RawProgressCallback): Promise<RawMlpFit>;
  /** Predictions: rows values (binary P(class 1), regression) or rows * numClass probabilities. */
  predictMlp(values: RawFloatArray, options: RawMatrixOptions, model: RawMlpModel): Promise<Float64Array>;
  /**
   * Normalises, tokenises and hashes a utf8 column (Arrow layout; copied before the promise is
   * returned) into bucket counts, times idf (2^bits weights) when given, L2-normalised with l2.
   */
  textHash(bytes: Uint8Array, offsets: Int32Array, validity: Uint8Array | null, options: RawTextHashOptions, idf: Float64Array | null): Promise<RawSparseRows>;
  /** Creates streaming window/lag/cross feature state over numInputs double columns. */
  rollingCreate(features: RawRollingFeature[], numInputs: number): RawRollingHandle;
  /**
   * Consumes a batch (borrowed until the promise settles); resolves with the rows finished so far
   * (rows of the last time are held back when cross features exist, unless final).
   */
  rollingProcess(handle: RawRollingHandle, batch: RawRollingBatch, final: boolean, numThreads: number): Promise<RawRollingResult>;
  /** Runs a whole native feature build off the JS thread (see RawFeaturePipelineSpec). */
  featurePipeline(spec: RawFeaturePipelineSpec, cancel: RawCancelToken | null, onProgress: ((p: RawFeaturePipelineProgress) => void) | null): Promise<RawFeaturePipelineResult>;
  /** The normalised text of a string: lowercase ASCII tokens joined by one space. */
  normalizeText(text: string): string;
  /** MurmurHash3_x86_32 of the bytes (unsigned). */
  murmurHash3(bytes: Uint8Array, seed: number): number;
  /** Synchronous build/machine info. */
  nativeInfo(): RawNativeInfo;
  /** Registers the error constructor (called once by bindings/index.ts at load). */
  setErrorClass(ctor: RawErrorClass): void;
  /** Bin code of missing (NaN) values. */
  readonly MISSING_BIN: 255;
}
