// Native engine of window, lag and cross features: the rows (after dedupe and the SQL features
// they read) stream out of DuckDB ordered by (time, entity, row id) into the streaming kernel
// (native/features/rolling.cc), whose outputs go back into a DuckDB table through a chunk appender.
// The result is a relation with the same rows and columns as the SQL compiler's stage, so label,
// split, encoders and writing stay as they are. The SQL compiler remains the reference (engine 'sql').
import duckdbRaw from '@duckdb/node-bindings';
import fs from 'node:fs';
import path from 'node:path';
import { BIGINT, DOUBLE, DuckDBDataChunk, INTEGER, TIMESTAMP, type DuckDBConnection } from '@duckdb/node-api';
import { KilnError } from '../../bindings/errors.js';
import { cancelOp, cancelToken, featurePipeline, nativeAvailable, rollingCreate, rollingProcess, type FeaturePipelineProgress, type FeaturePipelineSpec, type RollingFeature, type RollingResult } from '../../bindings/index.js';
import { duckdbError } from '../io/duckdb.js';
import { sqlIdent as q, sqlString } from '../io/formats.js';
import { duckdbLibraryPath, scanConnection } from '../io/scan.js';
import { compileStage, isEncoded, ROW_ID, timestampExpr, type InputColumn, type InputRelation, type StagePlan } from './plan.js';
import type { ColumnStats } from './schema-doc.js';
import { parseWindow, type FeatureDef, type FeatureSpec } from './spec.js';

/** Which engine computes window, lag and cross features: 'native' (streaming kernel) or 'sql' (DuckDB window functions, the reference). */
export type FeatureEngine = 'native' | 'sql';

type NativeFeature = Extract<FeatureDef, { kind: 'window' | 'lag' | 'cross' }>;

/** How a spec splits between the SQL stage before the kernel, the kernel, and the SQL stage after it. */
export interface NativePlan {
  native: NativeFeature[];
  /** sql / calendar features that read no native feature (computed before the kernel). */
  pre: FeatureDef[];
  /** Input columns the kernel reads (as DOUBLE). */
  inputs: string[];
  /** True when nothing but the native features themselves needs a SQL pass after the kernel. */
  direct: boolean;
}

const isNativeKind = (f: FeatureDef): f is NativeFeature => f.kind === 'window' || f.kind === 'lag' || f.kind === 'cross';

/** Types whose values a DOUBLE holds exactly (native lag outputs are cast back to them). */
const EXACT_IN_DOUBLE = new Set(['DOUBLE', 'FLOAT', 'INTEGER', 'SMALLINT', 'TINYINT', 'UTINYINT', 'USMALLINT', 'UINTEGER']);

function mentions(expr: string, name: string): boolean {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_"])${esc}($|[^A-Za-z0-9_])|"${esc}"`, 'i').test(expr);
}

/**
 * Plans the native engine for a spec, or returns null when it does not apply (no window, lag or
 * cross feature; a native feature reading a feature computed after it; lag of a type a DOUBLE
 * does not hold exactly).
 */
export function planNative(spec: FeatureSpec, inputColumns: InputColumn[]): NativePlan | null {
  if (!spec.time) return null;
  const native = spec.features.filter(isNativeKind);
  if (!native.length) return null;
  const byName = new Map(spec.features.map((f) => [f.name, f]));
  const types = new Map(inputColumns.map((c) => [c.name, c.type.toUpperCase()]));
  const readsNative = new Map<string, boolean>();
  const visit = (f: FeatureDef, depth = 0): boolean => {
    const known = readsNative.get(f.name);
    if (known !== undefined) return known;
    if (depth > spec.features.length) return true; // cycles are reported by the SQL compiler
    let r = false;
    if (isNativeKind(f)) r = true;
    else if (f.kind === 'sql') r = spec.features.some((g) => g.name !== f.name && mentions(f.expr, g.name) && visit(g, depth + 1));
    else if (f.kind === 'calendar') r = f.column !== undefined && byName.has(f.column) && visit(byName.get(f.column)!, depth + 1);
    readsNative.set(f.name, r);
    return r;
  };
  const pre = spec.features.filter((f) => !isEncoded(f) && !isNativeKind(f) && !visit(f));
  const preNames = new Set(pre.map((f) => f.name));
  const nativeNames = new Set(native.map((f) => f.name));
  const inputs: string[] = [];
  const order: NativeFeature[] = [];
  const placed = new Set<string>();
  for (const f of native) {
    const col = f.column;
    if (nativeNames.has(col)) continue;
    if (byName.has(col) && !preNames.has(col)) return null;
    if (!byName.has(col) && !types.has(col)) return null;
    if (f.kind === 'lag' && !(types.has(col) && EXACT_IN_DOUBLE.has(types.get(col)!))) return null;
    if (!inputs.includes(col)) inputs.push(col);
  }
  // Dependency order among native features (a window over ret_1, a cross over ret_1, ...).
  let progress = true;
  while (order.length < native.length && progress) {
    progress = false;
    for (const f of native) {
      if (placed.has(f.name)) continue;
      if (nativeNames.has(f.column) && !placed.has(f.column)) continue;
      if (f.kind === 'lag' && nativeNames.has(f.column)) return null;
      order.push(f);
      placed.add(f.name);
      progress = true;
    }
  }
  if (order.length < native.length) return null;
  const post = spec.features.filter((f) => !isEncoded(f) && !isNativeKind(f) && !preNames.has(f.name));
  const direct = post.length === 0 && pre.length === 0 && !spec.label && !spec.split && !spec.features.some(isEncoded);
  return { native: order, pre, inputs, direct };
}

/** The kernel's feature list of a plan; entityRef gives a cross entity's id + 1 (0: absent). */
function kernelFeatures(plan: NativePlan, entityRef: (name: string) => number): RollingFeature[] {
  const inputIndex = new Map(plan.inputs.map((c, i) => [c, i]));
  const featIndex = new Map(plan.native.map((f, i) => [f.name, i]));
  return plan.native.map((f) => {
    const input = featIndex.has(f.column) ? plan.inputs.length + featIndex.get(f.column)! : inputIndex.get(f.column)!;
    const base: RollingFeature = { name: f.name, fn: 'lag', input, timeWindow: false, windowUs: 0, windowRows: 0, exclusive: false, minPeriods: 1, left: 0, right: 0 };
    if (f.kind === 'lag') return { ...base, fn: 'lag', windowRows: f.periods ?? 1 };
    if (f.kind === 'cross') {
      const w = f.window !== undefined ? parseWindow(f.window) : null;
      return {
        ...base,
        fn: f.fn,
        left: entityRef(f.left),
        right: entityRef(f.right),
        ...(w ? ('rows' in w ? { windowRows: w.rows } : { timeWindow: true, windowUs: w.micros }) : {}),
      };
    }
    if (f.fn === 'pct_change') return { ...base, fn: 'pct_change', windowRows: f.periods ?? 1 };
    const w = parseWindow(f.window!);
    return {
      ...base,
      fn: f.fn,
      ...('rows' in w ? { windowRows: w.rows } : { timeWindow: true, windowUs: w.micros }),
      exclusive: Boolean(f.exclusive),
      minPeriods: f.min_periods ?? 1,
    };
  });
}

/** `<prefix>__f<i> AS name` per native feature (lags cast back to their input's type), in plan order. */
function nativeOutputExprs(plan: NativePlan, inputColumns: InputColumn[], prefix: string): string[] {
  return plan.native.map((f, i) => {
    const src = `${prefix}__f${i}`;
    if (f.kind === 'lag') {
      const t = inputColumns.find((c) => c.name === f.column)!.type;
      return `CAST(${src} AS ${t}) AS ${q(f.name)}`;
    }
    return `${src} AS ${q(f.name)}`;
  });
}

/** Objects a native stage created in the connection (dropped by the caller once done with the stage SQL). */
export interface NativeStage extends StagePlan {
  /** The kernel-visible rows (after dedupe). */
  rows: number;
  drop(): Promise<void>;
}

async function exec(conn: DuckDBConnection, sql: string, context: Record<string, unknown>): Promise<void> {
  try {
    await conn.run(sql);
  } catch (err) {
    throw duckdbError(err, context);
  }
}

let stageCounter = 0;

/** Appends kernel results to a table (time, entity id, row id, one DOUBLE per feature) chunk by chunk. */
class ResultAppender {
  private readonly types;
  constructor(private readonly numFeatures: number) {
    this.types = [TIMESTAMP, INTEGER, BIGINT, ...Array.from({ length: numFeatures }, () => DOUBLE)];
  }

  append(app: { appendDataChunk(c: DuckDBDataChunk): void }, r: RollingResult): void {
    const CHUNK = 2048;
    for (let from = 0; from < r.rows; from += CHUNK) {
      const n = Math.min(CHUNK, r.rows - from);
      const chunk = DuckDBDataChunk.create(this.types, n);
      const put = (col: number, arr: BigInt64Array | Int32Array | Float64Array): void => {
        const vec = duckdbRaw.data_chunk_get_vector(chunk.chunk, col);
        const w = arr.BYTES_PER_ELEMENT;
        duckdbRaw.copy_data_to_vector(vec, 0, arr.buffer as ArrayBuffer, arr.byteOffset + from * w, n * w);
      };
      put(0, r.time);
      put(1, r.entity);
      put(2, r.rowId!);
      for (let f = 0; f < this.numFeatures; f++) {
        put(3 + f, r.values[f]!);
        const bm = r.validity[f]!;
        let allValid = true;
        for (let i = from; i < from + n; i++) if (((bm[i >> 3]! >> (i & 7)) & 1) === 0) { allValid = false; break; }
        if (allValid) continue;
        const vec = duckdbRaw.data_chunk_get_vector(chunk.chunk, 3 + f);
        duckdbRaw.vector_ensure_validity_writable(vec);
        // Chunk rows start at bit 0: repack the bitmap when `from` is not byte-aligned (it always is: 2048 rows per chunk).
        const bytes = Math.ceil(n / 8);
        const packed = new Uint8Array(Math.ceil(bytes / 8) * 8).fill(0);
        packed.set(bm.subarray(from >> 3, (from >> 3) + bytes));
        if (n % 8) packed[bytes - 1]! &= (1 << (n % 8)) - 1;
        duckdbRaw.copy_data_to_vector_validity(vec, 0, packed.buffer, 0, bytes);
      }
      app.appendDataChunk(chunk);
    }
  }
}

/**
 * Runs the native engine on a connection: returns a stage plan whose SQL yields the same rows and
 * columns as compileStage(spec, rel, inputColumns, {mode}) would (ordered the same way).
 */
export async function runNativeStage(
  conn: DuckDBConnection,
  spec: FeatureSpec,
  rel: InputRelation,
  inputColumns: InputColumn[],
  plan: NativePlan,
  opts: {
    mode: 'build' | 'apply';
    /** A second connection of the same instance for the appender (a query on the streaming connection would end its stream). */
    appendConn: DuckDBConnection;
    batchSize?: number;
    threads?: number;
    seriesError: () => Promise<KilnError | null>; checkCancelled?: () => void },
): Promise<NativeStage> {
  const id = `${process.pid}_${++stageCounter}`;
  const preT = `__kiln_pre_${id}`;
  const dictT = `__kiln_dict_${id}`;
  const natT = `__kiln_nat_${id}`;
  const created: string[] = [];
  const drop = async (): Promise<void> => {
    for (const t of created.reverse()) await conn.run(`DROP TABLE IF EXISTS ${q(t)}`).catch(() => undefined);
    created.length = 0;
  };
  try {
    const time = spec.time!;
    const entity = spec.entity;
    const preSpec: FeatureSpec = { ...spec, features: plan.pre, label: undefined, split: undefined };
    const preSql = compileStage(preSpec, rel, inputColumns, { mode: 'relation' }).sql;
    // The input (deduped, time as TIMESTAMP, pre features) is joined back to the kernel's outputs
    // unless the stage is direct: materialise it then (a direct stage reads its sources twice instead).
    let preRel = `(${preSql})`;
    if (!plan.direct) {
      await exec(conn, `CREATE TABLE ${q(preT)} AS ${preSql}`, { stage: 'compute features' });
      created.push(preT);
      preRel = q(preT);
    }
    if (entity) {
      await exec(conn, `CREATE TABLE ${q(dictT)} AS SELECT e, CAST(row_number() OVER (ORDER BY e) - 1 AS INTEGER) AS __eid FROM (SELECT DISTINCT ${q(entity)} AS e FROM ${preRel})`, { stage: 'compute features' });
      created.push(dictT);
    }
    const ids = new Map<string, number>();
    if (entity) {
      const crossNames = [...new Set(plan.native.flatMap((f) => (f.kind === 'cross' ? [f.left, f.right] : [])))];
      if (crossNames.length) {
        const r = await conn.runAndReadAll(`SELECT CAST(e AS VARCHAR), __eid FROM ${q(dictT)} WHERE CAST(e AS VARCHAR) IN (${crossNames.map(sqlString).join(', ')})`);
        for (const row of r.getRows()) ids.set(String(row[0]), Number(row[1]));
      }
    }
    const features = kernelFeatures(plan, (name) => (ids.has(name) ? ids.get(name)! + 1 : 0));
    const handle = rollingCreate(features, plan.inputs.length);
    await exec(conn, `CREATE TABLE ${q(natT)} (__t TIMESTAMP, __eid INTEGER, ${ROW_ID} BIGINT${plan.native.map((_, i) => `, __f${i} DOUBLE`).join('')})`, { stage: 'compute features' });
    created.push(natT);
    const app = await opts.appendConn.createAppender(natT);
    const appender = new ResultAppender(plan.native.length);
    const eidExpr = entity ? 'd.__eid' : 'CAST(0 AS INTEGER)';
    const join = entity ? ` JOIN ${q(dictT)} AS d ON p.${q(entity)} IS NOT DISTINCT FROM d.e` : '';
    const stream =
      `SELECT p.${q(time)} AS __t, ${eidExpr} AS __eid, p.${ROW_ID} AS ${ROW_ID}${plan.inputs.map((c, i) => `, CAST(p.${q(c)} AS DOUBLE) AS __x${i}`).join('')} ` +
      `FROM ${preRel} AS p${join} ORDER BY p.${q(time)}, __eid, p.${ROW_ID}`;
    let rows = 0;
    let scanned = 0;
    const feed = async (r: RollingResult): Promise<void> => {
      appender.append(app, r);
      rows += r.rows;
    };
    try {
      for await (const b of scanConnection(conn, stream, { batchSize: opts.batchSize ?? 65_536, context: { stage: 'compute features' } })) {
        opts.checkCancelled?.();
        scanned += b.numRows;
        const t = b.column('__t');
        const inputs = plan.inputs.map((_, i) => b.column(`__x${i}`));
        const r = await rollingProcess(
          handle,
          {
            rows: b.numRows,
            time: t.values as BigInt64Array,
            timeValidity: t.validity,
            entity: b.column('__eid').values as Int32Array,
            rowId: b.column(ROW_ID).values as BigInt64Array,
            inputs: inputs.map((c) => c.values as Float64Array),
            validity: inputs.map((c) => c.validity),
          },
          false,
          opts.threads ?? 0,
        );
        await feed(r);
      }
      await feed(await rollingProcess(handle, { rows: 0, time: new BigInt64Array(0), timeValidity: null, entity: new Int32Array(0), rowId: new BigInt64Array(0), inputs: plan.inputs.map(() => new Float64Array(0)), validity: plan.inputs.map(() => null) }, true, opts.threads ?? 0));
      app.closeSync();
      const stored = Number((await conn.runAndReadAll(`SELECT count(*) FROM ${q(natT)}`)).getRows()[0]![0]);
      if (rows !== scanned || stored !== rows) throw new KilnError('E_INTERNAL', `native features: ${scanned} rows read, ${rows} computed, ${stored} stored`);
    } catch (err) {
      try {
        app.closeSync();
      } catch {
        // the appender failed with the stream; the table is dropped below
      }
      if (err instanceof KilnError && err.code === 'E_VALIDATION' && err.message.startsWith('rows:')) {
        const found = await opts.seriesError();
        if (found) throw found;
      }
      throw err;
    }

    // The stage relation: input columns (+ pre features) joined with the kernel's outputs.
    const natCols = nativeOutputExprs(plan, inputColumns, 'n.');
    const precomputed = new Set([...plan.native.map((f) => f.name), ...plan.pre.map((f) => f.name)]);
    let stage: StagePlan;
    if (plan.direct) {
      const keys: string[] = [];
      if (entity) keys.push(`(SELECT list(e ORDER BY __eid) FROM ${q(dictT)})[n.__eid + 1] AS ${q(entity)}`);
      keys.push(`n.__t AS ${q(time)}`);
      const columns = [...(entity ? [entity] : []), time, ...spec.features.map((f) => f.name)];
      const byName = new Map(plan.native.map((f, i) => [f.name, natCols[i]!]));
      const sql = `SELECT ${[...keys, ...spec.features.map((f) => byName.get(f.name)!)].join(', ')} FROM ${q(natT)} AS n` + (opts.mode === 'apply' ? ` ORDER BY n.${ROW_ID}` : '');
      stage = { sql, columns, encoderInputs: {} };
    } else {
      const joined = `SELECT p.*, ${natCols.join(', ')} FROM ${preRel} AS p JOIN ${q(natT)} AS n ON p.${ROW_ID} = n.${ROW_ID}`;
      const cols = inputColumns.map((c) => (c.name === time ? { name: c.name, type: 'TIMESTAMP' } : c));
      stage = compileStage(spec, { ctes: [], select: joined }, cols, { mode: opts.mode, precomputed, hasRowId: true });
    }
    return { ...stage, rows, drop };
  } catch (err) {
    await drop();
    throw err;
  }
}

/**
 * True when a build can run as one native pipeline (runFeaturePipeline): a direct plan (window,
 * lag and cross features only: no SQL feature, label, split or encoder), no dedupe, a VARCHAR
 * entity or none, and the addon and libduckdb both load.
 */
export function pipelineApplies(spec: FeatureSpec, plan: NativePlan, inputColumns: InputColumn[]): boolean {
  if (!plan.direct || spec.dedupe?.length) return false;
  if (spec.entity && inputColumns.find((c) => c.name === spec.entity)?.type.toUpperCase() !== 'VARCHAR') return false;
  return nativeAvailable() && duckdbLibraryPath() !== null;
}

/** What runFeaturePipeline wrote. */
export interface PipelineRun {
  rows: number;
  /** false when the input was not already in (time, entity) order and DuckDB sorted it. */
  sortedOnInput: boolean;
  /** Summary statistics of every feature column (as columnStats computes them from a file). */
  stats: Record<string, ColumnStats>;
}

/** Parquet options of the pipeline's output. Features are mostly continuous: dictionary attempts cost more than they save, and LZ4 compresses them like the default Snappy for less CPU (benchmarks/RESULTS.md). */
export const PIPELINE_PARQUET_OPTIONS = 'FORMAT parquet, COMPRESSION lz4, DICTIONARY_SIZE_LIMIT 1';

/** Where and how a pipeline runs (see runFeaturePipeline). */
export interface PipelineOptions {
  file: string;
  threads: number;
  memoryLimit: string;
  tempDirectory: string;
  batchSize?: number;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1, byte: 1, bytes: 1,
  k: 1e3, kb: 1e3, kilobyte: 1e3, kilobytes: 1e3, m: 1e6, mb: 1e6, megabyte: 1e6, megabytes: 1e6,
  g: 1e9, gb: 1e9, gigabyte: 1e9, gigabytes: 1e9, t: 1e12, tb: 1e12, terabyte: 1e12, terabytes: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

/**
 * The memory_limit the pipeline's sort runs under, in bytes ('<n>B'), for a build limit written
 * as DuckDB takes it ('300MB', '1.5GiB'); null when the limit is not a plain size. DuckDB's sort
 * holds its reader's buffers and per-thread state outside the limit (a process sorting the features
 * benchmark's grouped input peaks at 573 MB under 300 MB: bench-sort-memory.mjs), so it gets the
 * limit less 256 MiB, and at least half of it.
 */
export function sortMemoryLimit(limit: string): string | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(limit);
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) return null;
  const bytes = Number(m[1]) * unit;
  return `${Math.floor(Math.max(bytes / 2, bytes - 2 ** 28))}B`;
}

/**
 * The native pipeline request of a direct plan: input and ordered-input SQL (time as TIMESTAMP,
 * the entity, the kernel's inputs as DOUBLE), the kernel's features, and `COPY ... TO opts.file`
 * of entity, time and the spec's features in spec order (lags cast back to their input's type).
 */
export function pipelineRequest(spec: FeatureSpec, rel: InputRelation, inputColumns: InputColumn[], plan: NativePlan, opts: PipelineOptions): FeaturePipelineSpec {
  const time = spec.time!;
  const entity = spec.entity;
  const types = new Map(inputColumns.map((c) => [c.name, c.type]));
  const sortLimit = sortMemoryLimit(opts.memoryLimit);
  const ctes = [...rel.ctes, `__in AS (${rel.select})`];
  const select =
    `SELECT ${timestampExpr(time, types.get(time)!)} AS __t${entity ? `, ${q(entity)} AS __e` : ''}` +
    plan.inputs.map((c, i) => `, CAST(${q(c)} AS DOUBLE) AS __x${i}`).join('') +
    ' FROM __in';
  const inputSql = `WITH ${ctes.join(',\n  ')}\n${select}`;
  const byName = new Map(plan.native.map((f, i) => [f.name, nativeOutputExprs(plan, inputColumns, '')[i]!]));
  const columns = [...(entity ? [`__e AS ${q(entity)}`] : []), `__t AS ${q(time)}`, ...spec.features.map((f) => byName.get(f.name)!)];
  const crossEntities = [...new Set(plan.native.flatMap((f) => (f.kind === 'cross' ? [f.left, f.right] : [])))];
  return {
    library: duckdbLibraryPath()!,
    settings: [`SET memory_limit = ${sqlString(opts.memoryLimit)}`, `SET temp_directory = ${sqlString(opts.tempDirectory)}`, 'SET preserve_insertion_order = true'],
    // The sort runs under a lower limit (retried under the build's when that runs out of memory).
    sortSettings: sortLimit === null ? [] : [`SET memory_limit = ${sqlString(sortLimit)}`],
    afterSortSettings: [`SET memory_limit = ${sqlString(opts.memoryLimit)}`],
    threads: Math.max(1, opts.threads),
    inputSql,
    orderedSql: `${inputSql} ORDER BY __t${entity ? ', __e NULLS LAST' : ''}`,
    sortedFile: path.join(opts.tempDirectory, `sorted-${process.pid}-${++stageCounter}.parquet`),
    outputSql: `COPY (SELECT ${columns.join(', ')} FROM {fn}) TO ${sqlString(opts.file)} (${PIPELINE_PARQUET_OPTIONS})`,
    hasEntity: Boolean(entity),
    numInputs: plan.inputs.length,
    features: kernelFeatures(plan, (name) => crossEntities.indexOf(name) + 1),
    crossEntities,
    // Features split over two kernel threads; more only contend with the reader and the writer.
    kernelThreads: Math.min(2, Math.max(1, opts.threads)),
    batchRows: opts.batchSize ?? 65_536,
  };
}

/**
 * Writes the features of a direct plan to one Parquet file in a single native pass: the input
 * streams out of a fresh DuckDB database (read in its own order while that is (time, entity)
 * order, else sorted), through the kernel, into `COPY ... TO file` (columns entity, time, then
 * the spec's features). Nothing passes through JS; memory is bounded by `memoryLimit` plus a few
 * kernel batches and the rows inside the largest window.
 */
export async function runFeaturePipeline(
  spec: FeatureSpec,
  rel: InputRelation,
  inputColumns: InputColumn[],
  plan: NativePlan,
  opts: PipelineOptions & {
    /** Finds the first offending input row when the kernel reports a missing time or a duplicate. */
    seriesError: () => Promise<KilnError | null>;
    signal?: AbortSignal;
    /** Hears each pass start and its rows written so far (every ~200 ms). */
    onProgress?: (p: FeaturePipelineProgress) => void;
  },
): Promise<PipelineRun> {
  fs.mkdirSync(opts.tempDirectory, { recursive: true });
  const token = cancelToken();
  const onAbort = (): void => cancelOp(token);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  try {
    const r = await featurePipeline(pipelineRequest(spec, rel, inputColumns, plan, opts), token, opts.onProgress ?? null);
    const stats: Record<string, ColumnStats> = {};
    plan.native.forEach((f, i) => {
      const st = r.stats[i]!;
      const some = st.finite > 0;
      stats[f.name] = {
        count: st.count,
        missing: st.missing,
        mean: some ? st.mean : null,
        std: st.finite > 1 ? Math.sqrt(st.m2 / (st.finite - 1)) : null,
        min: some ? st.min : null,
        max: some ? st.max : null,
      };
    });
    return { rows: r.rows, sortedOnInput: r.sortedOnInput, stats };
  } catch (err) {
    if (err instanceof KilnError && err.code === 'E_VALIDATION' && err.message.startsWith('rows:')) {
      const found = await opts.seriesError();
      if (found) throw found;
    }
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
