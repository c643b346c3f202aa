// The public library API: `import { ... } from 'kiln'`.
export { KilnError, isKilnError, type KilnErrorCode } from '../bindings/errors.js';
export { ColumnBatch, columnFromValues, isValidBit, countNulls, type Column, type ColumnType, type ColumnValues } from './batch/column-batch.js';
export { batchToArrow, batchFromArrow } from './batch/arrow.js';
export { detectFormat, resolveFormat, sourceSql, type DataFormat, type ReadOptions } from './io/formats.js';
export { duckdb, duckdbVersion, withConnection } from './io/duckdb.js';
export { scanFile, scanQuery, scanArrowFile, planColumn, duckdbLibraryPath, DEFAULT_BATCH_SIZE, type ScanOptions, type PlannedColumn } from './io/scan.js';
export { writeBatches, copyQueryToFile, type SinkOptions, type SinkResult } from './io/sinks.js';
export { writeAtomically, writeFileAtomic } from './io/atomic.js';
export { inspectFile, type FileProfile, type ColumnProfile } from './io/inspect.js';
export { PACKAGE_ROOT, KILN_VERSION, schemaPath } from './version.js';
export { compileSchema, resolveSchemaRef, builtinSchemas, assertValid, type CompiledSchema } from './validate/schema.js';
export { ingestFile, REJECT_CODES, type IngestOptions, type IngestSummary, type IngestProgress, type RejectCode, type RejectRecord } from './validate/ingest.js';
export { makeJudge, type JudgeOptions, type UnitVerdicts } from './validate/judge.js';
export { writeEventCorpus, makeEvent, seededRandom, type CorpusOptions, type CorpusManifest, type CorpusLineKind } from './validate/corpus.js';
export { sha256File, sha256Text, digestFile, canonicalJson, hashJson, type FileDigest } from './lineage/hash.js';
export { environmentSnapshot, gitInfo, allowlistedEnv, isRecordableEnvName, installedVersion, SNAPSHOT_PACKAGES, type EnvironmentSnapshot, type GitInfo } from './lineage/environment.js';
export { RunReceipt, writeReceipt, receiptPathFor, assertValidReceipt, type Receipt, type ReceiptFile, type MissingOutput, type RunStatus, type FinishOptions } from './lineage/receipt.js';
export { createManifest, readManifest, validateManifest, scanManifests, checkManifests, manifestRoot, dataFormatOf, readDataShape, MAX_MANIFEST_BYTES, type Manifest, type ManifestFile, type ManifestColumn, type ManifestValidation, type ManifestEntry, type ChangedFile, type CoverageCheck, type DuplicatedCoverage, type DataShape } from './lineage/manifest.js';
export { DatasetVersions, defaultDatasetStore, datasetIdFor, type DatasetVersionInfo } from './lineage/datasets.js';
export { nativeInfo, nativeAvailable, addonPath, fitBins, applyBins, MISSING_BIN, type NativeInfo, type BinMapper, type FitBinsOptions, type ApplyBinsOptions } from '../bindings/index.js';
export { GBDT, GBDT_DEFAULTS, resolveGbdtOptions, resolveDevice, forestFromModel, type GbdtDevice, type GBDTOptions, type GBDTFitOptions, type GBDTPredictOptions, type GBDTProgress, type UnseenCounts } from './models/gbdt.js';
export { loadModel, modelFromJSON, importXGBoost, importLightGBM, exportXGBoost, type KilnModel } from './models/load.js';
export { MODEL_FORMAT, MODEL_FORMAT_VERSION, serializeModel, parseModelText, assertValidModel, readModelFile, checkEnvelope, type ModelJson, type GbdtModelJson, type TreeJson, type FeatureJson } from './models/format.js';
export { prepareInput, type DenseMatrix, type ModelInput } from './models/matrix.js';
export { readXGBoostModel, writeXGBoostModel, importXGBoostJson, exportXGBoostJson, xgboostJsonText, MAX_IMPORT_BYTES } from './models/interop/xgboost.js';
export { readLightGBMModel, importLightGBMText } from './models/interop/lightgbm.js';
export { LogisticRegression, type LogisticRegressionOptions, type LogisticRegressionParams, type LinearModelJson, type LinearTrainingInfo, type LinearFitCall, type ClassWeight } from './models/linear.js';
export { MLP, type MLPOptions, type MLPParams, type MlpModelJson, type MlpTrainingInfo, type MlpFitCall, type MlpObjectiveName } from './models/mlp.js';
export { type FeatureInput, type TargetInput } from './models/dense-input.js';
export { StackingClassifier, stratifiedFolds, stackMemberSeed, deriveSeed, serializeStackModel, STACK_LOGIT_EPSILON, STACK_MAX_CATEGORIES, type StackingOptions, type StackMemberSpec, type StackMemberKind, type StackCalibration, type StackProgress, type StackFitCall, type StackUncertainty, type StackRowUncertainty, type StackOutOfFold, type StackModelJson, type StackMemberJson, type StackFeatureJson, type StackParamsJson, type StackTrainingJson } from './models/ensemble.js';
export { type TrainProgress, type TrainHooks } from '../bindings/index.js';
export { concatBatches, takeRows } from './batch/ops.js';
export { readTrainConfigFile, validateTrainConfig, resolveTrainConfig, DEFAULT_STACK_MEMBERS, type TrainConfig, type TrainConfigFile, type TrainFlags, type ModelKind as TrainModelKind } from './train/config.js';
export { splitRows, type SplitIndices } from './train/split.js';
export { defaultRunStore, recordRun, listRuns, getRun, compareRuns, flattenParams, type RunRecord, type RunDetails } from './train/store.js';
export { registerModel, listVersions, resolveRegistryRef, defaultRegistryDir, type RegistryVersion } from './registry/registry.js';
export { buildFeatures, applyFeatures, loadSpec, validateSpec, parseSpecText, compileStage, buildInputRelation, encodeBatch, fitCategory, fitTextHash, readFeatureSchema, assertValidFeatureSchema, OTHER_VALUE, type BuildFeaturesOptions, type BuildFeaturesResult, type ApplyFeaturesOptions, type FeatureSpec, type FeatureDef, type FeatureSchema, type FeatureSchemaColumn, type FittedEncoder, type CategoryEncoder, type TextHashEncoder, type UnseenCounts as FeatureUnseenCounts } from './features/index.js';
export { textHash, normalizeText, murmurHash3, MAX_HASH_BITS, type TextHashOptions, type SparseRows } from '../bindings/index.js';
export { scanConnection } from './io/scan.js';
export { buildCard, writeCard, serializeCard, assertValidCard, renderCardHtml, cardCurvesFromPredictions, CARD_FORMAT_VERSION, MAX_CURVE_CLASSES, type CardInput, type CardJson, type CardTask, type CardCurves, type ClassificationPredictions as CardClassificationPredictions, type RegressionPredictions as CardRegressionPredictions } from './evaluate/card.js';
export { CARD_PLOT_IDS, expectedPlotIds } from './evaluate/card-html.js';
// Evaluation (src/evaluate): metrics equal to scikit-learn's, curve data for model cards, exact
// threshold search, split-conformal sets and intervals.
export {
  accuracy, precision, recall, f1, precisionRecallF1, confusionMatrix, classificationReport, rocAuc, averagePrecision, prAuc, logLoss, brier,
  expectedCalibrationError, reliabilityCurve, rocCurve, precisionRecallCurve, scoreHistogram, mse, rmse, mae, r2, stableSum,
  classificationMetrics, classificationCurves, regressionMetrics, labelsFromProbabilities,
  optimizeThreshold, thresholdCandidates, thresholdObjective,
  ConformalClassifier, ConformalRegressor, conformalRank, conformalQuantile, setCoverage, intervalCoverage, setsToLists,
  type Average, type ClassMetricOptions, type PrecisionRecallF1, type ClassReportRow, type ClassificationReport, type ConfusionMatrix,
  type RocCurve, type PrecisionRecallCurve, type RankingOptions, type ReliabilityBin, type ReliabilityCurve, type ScoreHistogram,
  type ClassificationMetrics, type ClassificationCurves, type RegressionMetrics,
  type CostMatrix, type ThresholdObjective, type ThresholdChoice, type ThresholdPoint, type ThresholdOptions,
  type ConformalJson, type ConformalOptions, type ConformalSets, type ConformalIntervals,
  type NumberVector, type ScoreInput,
} from './evaluate/index.js';
// Calibration (stored in model files as `calibration`; models apply it in predict via setCalibration).
export {
  Calibrator, fitPlatt, fitIsotonic, isotonicPredict, logit, crossValidateCalibration, stratifiedFoldIds, ISOTONIC_MIN_SAMPLES,
  type CalibrationMethod, type CalibrationInput, type CalibrationJson, type SigmoidMap, type IsotonicMap, type PlattFit,
  type CalibratorFitOptions, type CrossValidateCalibrationOptions, type CrossValidatedCalibration,
} from './models/calibration.js';
// The stored decision threshold (model files' `threshold`; models use it in predictLabels via setThreshold).
export { type ThresholdJson, type SetThresholdOptions, type DecisionTask } from './models/decision.js';
export { trainRun, runSummary, type TrainRunOptions, type TrainRunResult } from './train/run.js';
export { reproduceRun, locateRun, type ReproduceResult } from './train/reproduce.js';
export { evaluateRun, type RunEvaluation, type FlatMetrics } from './train/evaluate-run.js';
export { validateTrainingFeatures, featureSchemaBeside } from './train/validate-features.js';
export { scoreFile, type ScoreFileOptions, type ScoreFileResult } from './serve/score.js';
export { PredictionLog, featureHash, predictionLogFiles, type PredictionRecord, type PredictionLogOptions } from './serve/prediction-log.js';
export { mergeFeedback, type FeedbackMergeOptions, type FeedbackMergeResult, type FeedbackCounts } from './monitor/feedback.js';
export { FeatureDriftDetector, detectFeatureDrift, setBaseline, detectDrift, benjaminiHochberg, renderDriftHtml, DRIFT_METHODS, DEFAULT_THRESHOLDS, type DriftMethod, type DriftOptions, type DriftProgress, type DriftReport, type FeatureDriftResult, type DriftBaseline, type DriftInput, type FeatureKind } from './monitor/drift/index.js';
export { driftNumeric, driftSort, driftBinCounts, driftCounts, ksPValue, kolmogorovSf, chiSquareSf, MAX_DRIFT_BINS, type DriftNumericOptions, type NumericDriftArrays, type BinnedDriftArrays } from '../bindings/index.js';
export { ModelMonitor, prometheusText, healthHtml, writeHealthReport, type ModelMonitorOptions, type PredictionUpdate, type HealthReport, type HealthStatus } from './monitor/health.js';
export { monitorModel, type MonitorRunOptions } from './monitor/run.js';
// Benchmark regression gates (src/evaluate): `kiln bench` model reports and `kiln bench perf` kernel timings.
export {
  resolveBenchModels, readValidationData, encodeLabelsForModel, benchmarkModel, measureLatency, runBenchmarks, benchMetrics,
  type BenchModelRef, type ValidationReadOptions, type ValidationData, type ModelBenchOptions, type RunBenchOptions, type RunBenchResult,
} from './evaluate/bench-models.js';
export {
  GATED_METRICS, relativeChange, worsening, compareBenchmark, compareWithHistory, targetAchievement, buildBenchReport, assertValidBenchReport, readBenchReport,
  type BenchmarkEntry, type BenchReport, type LatencyStats, type ThroughputStats, type MetricDirection, type GatedMetric, type MetricRegression,
  type RegressionThresholds, type BenchTargets, type TargetAchievement, type ValidationDataInfo, type BuildReportInput,
} from './evaluate/bench-report.js';
export {
  quantile, median, bootstrapRatio, perfVerdict, measureInterleaved, comparePerf,
  type BootstrapOptions, type RatioInterval, type PerfVerdict, type MeasureFn, type KernelComparison, type ComparePerfOptions, type PerfComparison,
} from './evaluate/bench-stats.js';
export {
  PERF_KERNELS, buildPerfSuite, suiteMeasure, perfMachine, assertValidPerfResults, readPerfResults, writePerfResults, checkComparable, runPerf,
  type PerfProfile, type PerfMachine, type PerfResults, type PerfKernel, type RunPerfOptions, type PerfRun,
} from './evaluate/perf-suite.js';
export { recordBenchmark, listBenchmarks, type BenchmarkRecord } from './train/store.js';
