// buildFeatures: spec -> DuckDB stage (materialised in a spill-capable work database) -> fitted
// encoders -> Parquet per split, feature-schema.json, manifest and receipt, published atomically.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KilnError } from '../../bindings/errors.js';
import { textHash } from '../../bindings/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { duckdbError } from '../io/duckdb.js';
import { sqlIdent as q, sqlString } from '../io/formats.js';
import { planColumn, scanConnection } from '../io/scan.js';
import { writeBatches } from '../io/sinks.js';
import { createManifest } from '../lineage/manifest.js';
import { RunReceipt, writeReceipt } from '../lineage/receipt.js';
import { hashJson } from '../lineage/hash.js';
import { KILN_VERSION } from '../version.js';
import { encodeBatch, fitCategory, fitTextHash, type FittedEncoder, type UnseenCounts } from './encode.js';
import { buildInputRelation, compileStage, isEncoded, needsOrderedSeries, numberedInputSql, relationSql, seriesCheckSql, type InputColumn, type InputRelation } from './plan.js';
import { FEATURE_SCHEMA_KIND, assertValidFeatureSchema, type ColumnStats, type FeatureSchema, type FeatureSchemaColumn } from './schema-doc.js';
import { loadSpec, validateSpec, SPLIT_COLUMN, type FeatureSpec } from './spec.js';
import { validateInput, validateOutputFile } from './checks.js';
import { pipelineApplies, planNative, runFeaturePipeline, runNativeStage, type FeatureEngine, type NativePlan, type NativeStage } from './native.js';

/** Options of buildFeatures. */
export interface BuildFeaturesOptions {
  /** Output folder (replaced atomically: it appears complete or not at all). */
  outDir: string;
  /** A data file read as the relation `input` (and the default input when the spec has no `input`). */
  input?: string;
  inputFormat?: 'auto' | 'csv' | 'parquet' | 'ndjson';
  /** Stream the stage out as ColumnBatches through the encoders (bounded memory in JS) even when DuckDB could write the files directly. */
  stream?: boolean;
  /** Check input columns, types, NaN/inf and declared ranges before computing. */
  validateIn?: boolean;
  /** Check the written files: schema, NaN/inf where not allowed, declared ranges. */
  validateOut?: boolean;
  /** Rows checked by the validations (default: all). */
  validateLimit?: number;
  /** Rows per ColumnBatch on the streaming path (default 65,536, fewer for wide encoders). */
  batchSize?: number;
  /** DuckDB memory limit of the build (default 1GB); beyond it DuckDB spills to the work folder. */
  memoryLimit?: string;
  /** DuckDB threads (default: KILN_THREADS or all cores). */
  threads?: number;
  /** The spec's file (recorded as an input of the receipt); set by buildFeatures(path). */
  specFile?: string;
  /**
   * Engine of window, lag and cross features: 'native' (the streaming kernel; the default where it
   * applies) or 'sql' (DuckDB window functions, the reference implementation).
   */
  engine?: FeatureEngine;
  /** Called when each stage starts, in order; long stages call again with the same stage and the `rows` done so far (of `totalRows` when known). */
  onProgress?: (p: { stage: string; detail?: string; rows?: number; totalRows?: number }) => void;
  signal?: AbortSignal;
}

/** What buildFeatures wrote. */
export interface BuildFeaturesResult {
  outDir: string;
  /** Data files by split ('features' without a split), absolute paths. */
  files: Record<string, string>;
  rows: Record<string, number>;
  schemaFile: string;
  manifestFile: string;
  receiptFile: string;
  schema: FeatureSchema;
  counts: { inputRows: number; duplicatesDropped: number; rows: number; unseen: UnseenCounts };
  durationMs: number;
}

const SPLITS = ['train', 'valid', 'test'] as const;

function hiddenName(dir: string, tag: string): string {
  return path.join(path.dirname(dir), `.${path.basename(dir)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

async function run(conn: DuckDBConnection, sql: string, context: Record<string, unknown> = {}): Promise<void> {
  try {
    await conn.run(sql);
  } catch (err) {
    throw duckdbError(err, context);
  }
}

async function rows(conn: DuckDBConnection, sql: string, context: Record<string, unknown> = {}): Promise<unknown[][]> {
  try {
    return (await conn.runAndReadAll(sql)).getRows() as unknown[][];
  } catch (err) {
    throw duckdbError(err, context);
  }
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new KilnError('E_CANCELLED', 'features: cancelled');
}

/** Describes the input relation's columns; an unreadable source is E_IO naming it. */
export async function describeInput(conn: DuckDBConnection, rel: InputRelation): Promise<InputColumn[]> {
  const described = await rows(conn, `DESCRIBE SELECT * FROM (${relationSql(rel)})`, { stage: 'read input' });
  return described.map((r) => ({ name: String(r[0]), type: String(r[1]) }));
}

/** Throws E_VALIDATION naming the first column the spec needs that the input lacks. */
export function checkReferencedColumns(spec: FeatureSpec, columns: InputColumn[]): void {
  const have = new Set(columns.map((c) => c.name));
  const featureNames = new Set(spec.features.map((f) => f.name));
  const need: Array<[string, string]> = [];
  if (spec.entity) need.push([spec.entity, 'entity']);
  if (spec.time) need.push([spec.time, 'time']);
  for (const d of spec.dedupe ?? []) need.push([d, 'dedupe']);
  spec.features.forEach((f, i) => {
    if ('column' in f && f.column !== undefined && !featureNames.has(f.column)) need.push([f.column, `features[${i}] (${f.name}).column`]);
  });
  for (const [col, where] of need) {
    if (!have.has(col)) {
      throw new KilnError('E_VALIDATION', `input has no column "${col}" (needed by ${where}); input columns: ${[...have].join(', ')}`, { column: col, field: where });
    }
  }
}

/** Builds features from a spec (object or file path) into opts.outDir. */
export async function buildFeatures(specOrFile: FeatureSpec | string, opts: BuildFeaturesOptions): Promise<BuildFeaturesResult> {
  const started = Date.now();
  const specFile = typeof specOrFile === 'string' ? specOrFile : opts.specFile;
  const spec = typeof specOrFile === 'string' ? loadSpec(specOrFile) : validateSpec(specOrFile, { baseDir: specFile ? path.dirname(path.resolve(specFile)) : process.cwd(), file: specFile });
  if (!opts.outDir) throw new KilnError('E_USAGE', 'buildFeatures needs outDir');
  if (opts.validateLimit !== undefined && !(Number.isInteger(opts.validateLimit) && opts.validateLimit >= 1)) throw new KilnError('E_USAGE', `validateLimit must be an integer >= 1, got ${opts.validateLimit}`);
  const outDir = path.resolve(opts.outDir);
  if (fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) throw new KilnError('E_USAGE', `--out-dir ${opts.outDir} exists and is not a folder`, { file: opts.outDir });
  if (opts.input && !fs.existsSync(opts.input)) throw new KilnError('E_IO', `cannot read input ${opts.input}: no such file`, { file: opts.input });
  for (const [name, src] of Object.entries(spec.sources ?? {})) {
    if (!fs.existsSync(src.path)) throw new KilnError('E_IO', `cannot read source ${name}: no such file ${src.path}`, { file: src.path, field: `sources.${name}.path` });
  }
  const progress = opts.onProgress ?? (() => undefined);
  const inputs = [...(specFile ? [specFile] : []), ...Object.values(spec.sources ?? {}).map((s) => s.path), ...(opts.input ? [opts.input] : [])];
  const config = {
    spec,
    stream: Boolean(opts.stream),
    validateIn: Boolean(opts.validateIn),
    validateOut: Boolean(opts.validateOut),
    validateLimit: opts.validateLimit ?? null,
    inputFormat: opts.inputFormat ?? 'auto',
  };
  const receipt = await RunReceipt.start('features', { config, inputs, hashInputs: 'during-run' });
  await fsp.mkdir(path.dirname(outDir), { recursive: true });
  const stageDir = hiddenName(outDir, 'tmp');
  const workDir = hiddenName(outDir, 'work');
  await fsp.mkdir(stageDir);
  await fsp.mkdir(workDir);
  let instance: DuckDBInstance | null = null;
  let conn: DuckDBConnection | null = null;
  const onAbort = (): void => conn?.interrupt();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const threads = opts.threads ?? (Number(process.env.KILN_THREADS) > 0 ? Number(process.env.KILN_THREADS) : os.availableParallelism());
    instance = await DuckDBInstance.create(path.join(workDir, 'work.duckdb'), {
      threads: String(threads),
      memory_limit: opts.memoryLimit ?? '1GB',
      temp_directory: path.join(workDir, 'spill'),
      preserve_insertion_order: 'true',
    });
    conn = await instance.connect();
    const c = conn;

    progress({ stage: 'read input' });
    const rel = buildInputRelation(spec, opts.input ? { file: opts.input, format: opts.inputFormat } : undefined);
    const inputColumns = await describeInput(c, rel);
    checkReferencedColumns(spec, inputColumns);
    checkCancelled(opts.signal);

    if (opts.validateIn) {
      progress({ stage: 'validate input', detail: opts.validateLimit ? `first ${opts.validateLimit} rows` : 'all rows' });
      await validateInput(c, spec, rel, inputColumns, opts.validateLimit);
      checkCancelled(opts.signal);
    }

    const plan = opts.engine === 'sql' ? null : planNative(spec, inputColumns);
    if (opts.engine === 'native' && !plan) throw new KilnError('E_USAGE', 'engine native: this spec has no window, lag or cross features the native engine can compute');
    let written: Written;
    if (plan && pipelineApplies(spec, plan, inputColumns)) {
      const passes = { stream: 'native pipeline: input -> kernel -> features.parquet', sort: 'input not in time order: DuckDB sorts it first', 'stream sorted': 'native pipeline over the sorted input' } as const;
      progress({ stage: 'compute features', detail: passes.stream });
      const file = path.join(stageDir, 'features.parquet');
      const r = await runFeaturePipeline(spec, rel, inputColumns, plan, {
        file,
        threads,
        memoryLimit: opts.memoryLimit ?? '1GB',
        tempDirectory: path.join(workDir, 'spill'),
        batchSize: opts.batchSize,
        seriesError: () => seriesError(c, spec, rel, inputColumns),
        signal: opts.signal,
        onProgress: (p) => progress({ stage: 'compute features', detail: passes[p.phase], rows: p.rowsWritten }),
      });
      written = { splitNames: ['features'], files: { features: file }, counts: { features: r.rows }, total: r.rows, inputRows: r.rows, encoders: {}, unseen: {}, stats: r.stats };
    } else {
      written = await computeAndWrite(c, instance, spec, rel, inputColumns, plan, opts, { threads, stageDir, progress });
    }
    checkCancelled(opts.signal);
    const { splitNames, files, counts, total, inputRows, encoders, unseen } = written;

    // Column types from the written files, and schema consistency across splits.
    const columns = await describeParquet(c, files[splitNames[0]!]!);
    const roleOf = (name: string): FeatureSchemaColumn['role'] =>
      name === spec.entity ? 'entity' : name === spec.time ? 'time' : spec.label && name === spec.label.name ? 'label' : 'feature';
    const schemaColumns: FeatureSchemaColumn[] = columns.map((col) => ({ name: col.name, type: col.type, duckdbType: col.duckdbType, role: roleOf(col.name) }));

    if (opts.validateOut) {
      progress({ stage: 'validate output', detail: opts.validateLimit ? `first ${opts.validateLimit} rows per file` : 'all rows' });
      for (const s of splitNames) await validateOutputFile(c, spec, files[s]!, `${s}.parquet`, schemaColumns, encoders, opts.validateLimit);
    }

    progress({ stage: 'summary statistics', detail: spec.split ? 'training split' : 'all rows' });
    const stats = written.stats ?? (await columnStats(c, files[splitNames[0]!]!, schemaColumns));
    const featureOutputs = (name: string): string[] => {
      const enc = encoders[name];
      return enc ? enc.outputs : [name];
    };
    const schema: FeatureSchema = {
      kind: FEATURE_SCHEMA_KIND,
      version: 1,
      createdAt: new Date().toISOString(),
      kilnVersion: KILN_VERSION,
      specHash: hashJson(spec),
      spec,
      entity: spec.entity ?? null,
      time: spec.time ?? null,
      label: spec.label ? { name: spec.label.name, type: schemaColumns.find((x) => x.name === spec.label!.name)?.type ?? 'float64' } : null,
      split: spec.split ?? null,
      columns: schemaColumns,
      inputColumns,
      features: spec.features.map((f) => ({ name: f.name, kind: f.kind, outputs: featureOutputs(f.name), ...(encoders[f.name] ? { encoder: encoders[f.name] } : {}) })),
      stats,
      files: Object.fromEntries(splitNames.map((s) => [s, { file: `${s}.parquet`, rows: counts[s]! }])),
      counts: { inputRows, duplicatesDropped: inputRows - total, rows: total, unseen },
    };
    assertValidFeatureSchema(schema, 'feature-schema.json');
    const schemaFile = path.join(stageDir, 'feature-schema.json');
    await writeFileAtomic(schemaFile, JSON.stringify(schema, null, 2) + '\n');

    progress({ stage: 'manifest and receipt' });
    const manifestFile = path.join(stageDir, 'manifest.json');
    const manifest = await createManifest(stageDir, manifestFile);
    const outputs = [...splitNames.map((s) => files[s]!), schemaFile, manifestFile];
    const record = await receipt.finish({
      outputs,
      knownDigests: new Map(manifest.files.map((f) => [path.join(stageDir, ...f.path.split('/')), { size: f.size, sha256: f.sha256 }])),
      counts: { inputRows, duplicatesDropped: inputRows - total, rows: total, ...Object.fromEntries(splitNames.map((s) => [`rows_${s}`, counts[s]!])), ...Object.fromEntries(Object.entries(unseen).map(([k, v]) => [`unseen_${k}`, v])) },
      extra: { outDir, features: schema.features.map((f) => f.name), columns: schemaColumns.length },
    });
    for (const o of record.outputs) o.path = path.join(outDir, path.relative(stageDir, o.path));
    await writeReceipt(record, path.join(stageDir, 'features'));

    progress({ stage: 'publish', detail: outDir });
    conn.closeSync();
    conn = null;
    instance.closeSync();
    instance = null;
    await publishDir(stageDir, outDir);
    const finalFiles = Object.fromEntries(splitNames.map((s) => [s, path.join(outDir, `${s}.parquet`)]));
    return {
      outDir,
      files: finalFiles,
      rows: counts,
      schemaFile: path.join(outDir, 'feature-schema.json'),
      manifestFile: path.join(outDir, 'manifest.json'),
      receiptFile: path.join(outDir, 'features.receipt.json'),
      schema,
      counts: schema.counts,
      durationMs: Date.now() - started,
    };
  } catch (err) {
    if (opts.signal?.aborted && !(err instanceof KilnError && err.code === 'E_CANCELLED')) throw new KilnError('E_CANCELLED', 'features: cancelled');
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    try {
      conn?.closeSync();
      instance?.closeSync();
    } catch {
      // closing after a failure: nothing more to do
    }
    await fsp.rm(workDir, { recursive: true, force: true });
    await fsp.rm(stageDir, { recursive: true, force: true });
  }
}

/** Output of the compute-and-write step: one Parquet file per split plus what the schema needs. */
interface Written {
  splitNames: string[];
  files: Record<string, string>;
  counts: Record<string, number>;
  total: number;
  inputRows: number;
  encoders: Record<string, FittedEncoder>;
  unseen: UnseenCounts;
  /** Summary statistics when the writer computed them (else read back from the first file). */
  stats?: Record<string, ColumnStats>;
}

/** Computes the stage (native kernel or SQL), fits encoders and writes each split's Parquet into ctx.stageDir. */
async function computeAndWrite(
  c: DuckDBConnection,
  instance: DuckDBInstance,
  spec: FeatureSpec,
  rel: InputRelation,
  inputColumns: InputColumn[],
  plan: NativePlan | null,
  opts: BuildFeaturesOptions,
  ctx: { threads: number; stageDir: string; progress: NonNullable<BuildFeaturesOptions['onProgress']> },
): Promise<Written> {
  const { threads, stageDir, progress } = ctx;
  const appendConn = plan ? await instance.connect() : null;
  try {
    if (!plan && needsOrderedSeries(spec)) {
      const found = await seriesError(c, spec, rel, inputColumns);
      if (found) throw found;
    }
    progress({ stage: 'compute features', detail: plan ? 'native' : 'sql' });
    let native: NativeStage | null = null;
    let stage;
    if (plan) {
      native = await runNativeStage(c, spec, rel, inputColumns, plan, {
        mode: 'build',
        appendConn: appendConn!,
        threads,
        batchSize: opts.batchSize,
        seriesError: () => seriesError(c, spec, rel, inputColumns),
        checkCancelled: () => checkCancelled(opts.signal),
      });
      stage = native;
      // A direct native stage is already materialised in its order: a view over it is enough.
      await run(c, `CREATE ${plan.direct ? 'VIEW' : 'TABLE'} staged AS ${stage.sql}`, { stage: 'compute features' });
    } else {
      stage = compileStage(spec, rel, inputColumns, { mode: 'build' });
      await run(c, `CREATE TABLE staged AS ${stage.sql}`, { stage: 'compute features' });
    }
    const total = Number((await rows(c, 'SELECT count(*) FROM staged'))[0]![0]);
    const inputRows = native && !spec.dedupe?.length ? total : Number((await rows(c, `SELECT count(*) FROM (${relationSql(rel)})`))[0]![0]);
    checkCancelled(opts.signal);

    const splitNames: string[] = spec.split ? [...SPLITS] : ['features'];
    const splitFilter = (s: string): string => (spec.split ? `WHERE ${q(SPLIT_COLUMN)} = ${sqlString(s)}` : '');
    const fitFilter = spec.split ? `WHERE ${q(SPLIT_COLUMN)} = 'train'` : '';

    // Fit encoders on the training split (all rows without a split).
    const encoders: Record<string, FittedEncoder> = {};
    const encodedFeatures = spec.features.filter(isEncoded);
    if (encodedFeatures.length) progress({ stage: 'fit encoders', detail: spec.split ? 'training split' : 'all rows' });
    for (const f of encodedFeatures) {
      const hidden = q(stage.encoderInputs[f.name]!);
      if (f.kind === 'category') {
        const counts = new Map<string, number>();
        for (const r of await rows(c, `SELECT CAST(${hidden} AS VARCHAR) AS v, count(*) FROM staged ${fitFilter} ${fitFilter ? 'AND' : 'WHERE'} ${hidden} IS NOT NULL GROUP BY v`)) {
          counts.set(String(r[0]), Number(r[1]));
        }
        encoders[f.name] = fitCategory(f, counts);
      } else {
        const bits = f.bits ?? 8;
        const df = new Float64Array(2 ** bits);
        let documents = 0;
        for await (const b of scanConnection(c, `SELECT CAST(${hidden} AS VARCHAR) AS t FROM staged ${fitFilter}`, { batchSize: 65_536 })) {
          const col = b.column('t');
          const sparse = await textHash({ values: col.values as Uint8Array, offsets: col.offsets!, validity: col.validity, rows: b.numRows }, { bits, seed: f.seed ?? 0, bigrams: f.bigrams ?? false });
          for (let j = 0; j < sparse.indices.length; j++) df[sparse.indices[j]!]! += 1;
          documents += b.numRows;
        }
        encoders[f.name] = fitTextHash(f, df, documents);
      }
    }
    checkCancelled(opts.signal);

    // Write each split.
    const outputCols = stage.columns.filter((col) => col !== SPLIT_COLUMN);
    const files: Record<string, string> = {};
    const counts: Record<string, number> = {};
    const unseen: UnseenCounts = {};
    const width = outputCols.length + Object.values(encoders).reduce((s, e) => s + e.outputs.length, 0);
    const batchSize = opts.batchSize ?? Math.max(256, Math.min(65_536, Math.floor(8_000_000 / Math.max(1, width))));
    const keys = [spec.entity, spec.time].filter(Boolean) as string[];
    for (const s of splitNames) {
      const file = path.join(stageDir, `${s}.parquet`);
      progress({ stage: `write ${s}.parquet` });
      const select = `SELECT ${outputCols.map(q).join(', ')} FROM staged ${splitFilter(s)}`;
      if (!encodedFeatures.length && !opts.stream) {
        await run(c, `COPY (${select}) TO ${sqlString(file)} (FORMAT parquet)`, { file });
        counts[s] = Number((await rows(c, `SELECT count(*) FROM staged ${splitFilter(s)}`))[0]![0]);
      } else {
        let firstRow = 1;
        let n = 0;
        const expected = Number((await rows(c, `SELECT count(*) FROM staged ${splitFilter(s)}`))[0]![0]);
        const batches = async function* () {
          for await (const b of scanConnection(c, select, { batchSize })) {
            checkCancelled(opts.signal);
            const encoded = await encodeBatch(b, encoders, stage.encoderInputs, { where: `${s}.parquet`, firstRow, keys }, unseen);
            firstRow += b.numRows;
            n += b.numRows;
            progress({ stage: `write ${s}.parquet`, rows: n, totalRows: expected });
            yield encoded;
          }
        };
        if (await hasRows(c, `staged ${splitFilter(s)}`)) {
          await writeBatches(batches(), file);
        } else {
          await run(c, `COPY (SELECT * FROM (${emptyTypedSelect(select, stage.encoderInputs, encoders)}) LIMIT 0) TO ${sqlString(file)} (FORMAT parquet)`, { file });
        }
        counts[s] = n;
      }
      files[s] = file;
      checkCancelled(opts.signal);
    }
    return { splitNames, files, counts, total, inputRows, encoders, unseen };
  } finally {
    appendConn?.closeSync();
  }
}

/** The first duplicated (entity, time) or missing time of the input as an E_VALIDATION error, or null. */
async function seriesError(c: DuckDBConnection, spec: FeatureSpec, rel: InputRelation, inputColumns: InputColumn[]): Promise<KilnError | null> {
  const found = await rows(c, seriesCheckSql(spec, rel, inputColumns));
  if (!found.length) return null;
  const r = found[0]!;
  const keys = [spec.entity, spec.time].filter(Boolean) as string[];
  const where = keys.map((k, i) => `${k}=${String(r[i + 1])}`).join(', ');
  const row = Number(r[keys.length + 1]);
  if (r[0] === 'null_time') return new KilnError('E_VALIDATION', `column ${spec.time} is missing at input row ${row}: window, lag and cross features need a time on every row`, { column: spec.time, row });
  return new KilnError('E_VALIDATION', `${Number(r[keys.length + 2])} rows share ${where} (first at input row ${row}): window, lag and cross features need one row per entity and time; add dedupe: [${keys.join(', ')}]`, { column: spec.time, row });
}

async function hasRows(conn: DuckDBConnection, from: string): Promise<boolean> {
  return (await rows(conn, `SELECT 1 FROM ${from} LIMIT 1`)).length > 0;
}

/** A typed empty SELECT of the encoded output (for an empty split), built from the encoders' column types. */
function emptyTypedSelect(select: string, inputs: Record<string, string>, encoders: Record<string, FittedEncoder>): string {
  const hidden = new Map(Object.entries(inputs).map(([f, h]) => [h, encoders[f]!]));
  const cols = select.slice('SELECT '.length, select.indexOf(' FROM staged')).split(', ');
  const parts: string[] = [];
  for (const col of cols) {
    const name = col.replace(/^"|"$/g, '').replace(/""/g, '"');
    const enc = hidden.get(name);
    if (!enc) parts.push(col);
    else if (enc.kind === 'category' && enc.encoding === 'ordinal') parts.push(`CAST(NULL AS INTEGER) AS ${q(enc.outputs[0]!)}`);
    else for (const o of enc.outputs) parts.push(`CAST(NULL AS FLOAT) AS ${q(o)}`);
  }
  return `SELECT ${parts.join(', ')} FROM staged`;
}

/** Columns of a Parquet file with kiln types. */
export async function describeParquet(conn: DuckDBConnection, file: string): Promise<Array<{ name: string; type: FeatureSchemaColumn['type']; duckdbType: string }>> {
  const described = await rows(conn, `DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`, { file });
  return described.map((r) => {
    const p = planColumn(String(r[0]), String(r[1]));
    return { name: p.name, type: p.type, duckdbType: p.duckdbType };
  });
}

const NUMERIC = new Set(['int32', 'int64', 'float32', 'float64', 'bool']);

/** count, missing, mean, std, min, max of every numeric column of a file (NaN/inf excluded from moments). */
async function columnStats(conn: DuckDBConnection, file: string, columns: FeatureSchemaColumn[]): Promise<Record<string, ColumnStats>> {
  const numeric = columns.filter((c) => NUMERIC.has(c.type) && c.role !== 'entity');
  const out: Record<string, ColumnStats> = {};
  for (let start = 0; start < numeric.length; start += 200) {
    const chunk = numeric.slice(start, start + 200);
    const aggs = chunk.flatMap((c) => {
      const x = `CAST(${q(c.name)} AS DOUBLE)`;
      const fin = `CASE WHEN isfinite(${x}) THEN ${x} END`;
      return [`count(${x})`, `count(*) - count(${x})`, `avg(${fin})`, `stddev_samp(${fin})`, `min(${fin})`, `max(${fin})`];
    });
    const r = (await rows(conn, `SELECT ${aggs.join(', ')} FROM read_parquet(${sqlString(file)})`, { file }))[0]!;
    chunk.forEach((c, i) => {
      const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number.isFinite(Number(v)) ? Number(v) : null);
      out[c.name] = { count: Number(r[i * 6]), missing: Number(r[i * 6 + 1]), mean: num(r[i * 6 + 2]), std: num(r[i * 6 + 3]), min: num(r[i * 6 + 4]), max: num(r[i * 6 + 5]) };
    });
  }
  return out;
}

/** Moves a finished folder onto `target`: renames any old one aside, renames the new one in, removes the old. */
async function publishDir(ready: string, target: string): Promise<void> {
  let old: string | null = null;
  if (fs.existsSync(target)) {
    old = hiddenName(target, 'old');
    await fsp.rename(target, old);
  }
  try {
    await fsp.rename(ready, target);
  } catch (err) {
    if (old) await fsp.rename(old, target);
    throw new KilnError('E_IO', `cannot publish ${target}: ${(err as Error).message}`, { file: target });
  }
  if (old) await fsp.rm(old, { recursive: true, force: true });
}

export { numberedInputSql };
