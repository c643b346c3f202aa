// The public library API: `import { ... } from 'kiln'`.
export { KilnError, isKilnError, type KilnErrorCode } from '../bindings/errors.js';
export { ColumnBatch, columnFromValues, isValidBit, countNulls, type Column, type ColumnType, type ColumnValues } from './batch/column-batch.js';
export { batchToArrow, batchFromArrow } from './batch/arrow.js';
export { detectFormat, resolveFormat, sourceSql, type DataFormat, type ReadOptions } from './io/formats.js';
export { duckdb, duckdbVersion, withConnection } from './io/duckdb.js';
export { scanFile, scanQuery, scanArrowFile, planColumn, DEFAULT_BATCH_SIZE, type ScanOptions, type PlannedColumn } from './io/scan.js';
export { writeBatches, copyQueryToFile, type SinkOptions, type SinkResult } from './io/sinks.js';
export { writeAtomically, writeFileAtomic } from './io/atomic.js';
export { inspectFile, type FileProfile, type ColumnProfile } from './io/inspect.js';
export { PACKAGE_ROOT, KILN_VERSION, schemaPath } from './version.js';
export { compileSchema, resolveSchemaRef, builtinSchemas, assertValid, type CompiledSchema } from './validate/schema.js';
export { ingestFile, REJECT_CODES, type IngestOptions, type IngestSummary, type IngestProgress, type RejectCode, type RejectRecord } from './validate/ingest.js';
export { makeJudge, type JudgeOptions, type UnitVerdicts } from './validate/judge.js';
export { writeEventCorpus, makeEvent, seededRandom, type CorpusOptions, type CorpusManifest, type CorpusLineKind } from './validate/corpus.js';
