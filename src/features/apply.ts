// applyFeatures: the serving / batch-scoring path. The rows of a batch become the input relation of
// the same compiled stage SQL the build ran, then go through the same fitted encoders.
import { DuckDBInstance, DuckDBTimestampValue, DuckDBDateValue, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import { KilnError } from '../../bindings/errors.js';
import { ColumnBatch, isValidBit, type Column } from '../batch/column-batch.js';
import { duckdbError } from '../io/duckdb.js';
import { sqlIdent as q } from '../io/formats.js';
import { scanConnection } from '../io/scan.js';
import { encodeBatch, type FittedEncoder, type UnseenCounts } from './encode.js';
import { compileStage, needsOrderedSeries, seriesCheckSql, type InputColumn, type StagePlan } from './plan.js';
import { planNative, runNativeStage, type FeatureEngine } from './native.js';
import { assertValidFeatureSchema, readFeatureSchema, type FeatureSchema } from './schema-doc.js';
import { DUCKDB_TYPE } from '../io/sinks.js';

let applyDb: Promise<DuckDBInstance> | null = null;
let tableCounter = 0;

function db(): Promise<DuckDBInstance> {
  applyDb ??= DuckDBInstance.create(':memory:', { threads: '1' });
  return applyDb;
}

function appendValue(app: DuckDBAppender, batch: ColumnBatch, c: Column, i: number): void {
  if (!isValidBit(c.validity, i)) {
    app.appendNull();
    return;
  }
  switch (c.type) {
    case 'bool':
      app.appendBoolean(c.values[i] !== 0);
      break;
    case 'int32':
      app.appendInteger(c.values[i] as number);
      break;
    case 'int64':
      app.appendBigInt(c.values[i] as bigint);
      break;
    case 'float32':
      app.appendFloat(c.values[i] as number);
      break;
    case 'float64':
      app.appendDouble(c.values[i] as number);
      break;
    case 'date32':
      app.appendDate(new DuckDBDateValue(c.values[i] as number));
      break;
    case 'timestamp_us':
      app.appendTimestamp(new DuckDBTimestampValue(c.values[i] as bigint));
      break;
    case 'utf8':
      app.appendVarchar(batch.value(c, i) as string);
      break;
  }
}

/** Options of applyFeatures. */
export interface ApplyFeaturesOptions {
  /** Unseen category values are counted here, per feature. */
  unseen?: UnseenCounts;
  /** Engine of window, lag and cross features (as buildFeatures; default native where it applies). */
  engine?: FeatureEngine;
}

/**
 * Computes the features of a feature schema for the rows of `batch` (the columns of the build's
 * input relation, e.g. symbol, ts, close, volume). Window, lag and cross features see only the
 * rows of the batch, so pass the history a window needs along with the rows to score. The result
 * has the build's output columns (entity, time, features; no label or split), one row per input
 * row (after the spec's dedupe) in input order. Offline and online features are equal for the same
 * rows: this is the build's own SQL and encoders.
 */
export async function applyFeatures(batch: ColumnBatch, featureSchema: FeatureSchema | string, opts: ApplyFeaturesOptions = {}): Promise<ColumnBatch> {
  const schema = typeof featureSchema === 'string' ? readFeatureSchema(featureSchema) : featureSchema;
  if (typeof featureSchema !== 'string') assertValidFeatureSchema(schema, 'feature schema');
  if (!(batch instanceof ColumnBatch)) throw new KilnError('E_USAGE', 'applyFeatures needs a ColumnBatch');
  for (const c of schema.inputColumns) {
    if (!batch.has(c.name)) throw new KilnError('E_VALIDATION', `applyFeatures: the batch has no column "${c.name}" (the build's input had: ${schema.inputColumns.map((x) => x.name).join(', ')})`, { column: c.name });
  }
  const encoders: Record<string, FittedEncoder> = {};
  for (const f of schema.features) if (f.encoder) encoders[f.name] = f.encoder;
  const table = `__apply_${process.pid}_${++tableCounter}`;
  const conn: DuckDBConnection = await (await db()).connect();
  let dropNative: (() => Promise<void>) | null = null;
  let appendConn: DuckDBConnection | null = null;
  try {
    const cols = schema.inputColumns.map((ic) => batch.column(ic.name));
    try {
      await conn.run(`CREATE TEMP TABLE ${q(table)} (${cols.map((c) => `${q(c.name)} ${DUCKDB_TYPE[c.type]}`).join(', ')})`);
      const app = await conn.createAppender(table, 'main', 'temp');
      for (let i = 0; i < batch.numRows; i++) {
        for (const c of cols) appendValue(app, batch, c, i);
        app.endRow();
      }
      app.closeSync();
    } catch (err) {
      throw duckdbError(err, { stage: 'applyFeatures' });
    }
    const columns: InputColumn[] = cols.map((c) => ({ name: c.name, type: DUCKDB_TYPE[c.type] }));
    const rel = { ctes: [], select: `SELECT * FROM temp.main.${q(table)}` };
    const plan = opts.engine === 'sql' ? null : planNative(schema.spec, columns);
    let stage: StagePlan;
    if (plan) {
      const spec = schema.spec;
      const native = await runNativeStage(conn, spec, rel, columns, plan, {
        mode: 'apply',
        appendConn: (appendConn = await (await db()).connect()),
        threads: 1,
        batchSize: Math.max(1, Math.min(65_536, batch.numRows)),
        seriesError: async () => {
          if (!needsOrderedSeries(spec)) return null;
          const found = (await conn.runAndReadAll(seriesCheckSql(spec, rel, columns))).getRows();
          return found.length ? new KilnError('E_VALIDATION', `applyFeatures: rows need one row per entity and time with a time on every row (first problem at row ${String(found[0]![found[0]!.length - 2])})`) : null;
        },
      });
      stage = native;
      dropNative = native.drop;
    } else {
      stage = compileStage(schema.spec, rel, columns, { mode: 'apply' });
    }
    const parts: ColumnBatch[] = [];
    let firstRow = 1;
    const keys = [schema.entity, schema.time].filter(Boolean) as string[];
    const unseen = opts.unseen ?? {};
    for await (const b of scanConnection(conn, stage.sql, { batchSize: Math.max(1, batch.numRows) })) {
      parts.push(await encodeBatch(b, encoders, stage.encoderInputs, { where: 'applyFeatures', firstRow, keys }, unseen));
      firstRow += b.numRows;
    }
    if (parts.length === 1) return parts[0]!;
    if (parts.length === 0) return emptyLike(schema);
    throw new KilnError('E_INTERNAL', 'applyFeatures: the stage returned more rows than it was given');
  } finally {
    try {
      await dropNative?.();
      await conn.run(`DROP TABLE IF EXISTS temp.main.${q(table)}`);
    } finally {
      appendConn?.closeSync();
      conn.closeSync();
    }
  }
}

function emptyLike(schema: FeatureSchema): ColumnBatch {
  const cols: Column[] = schema.columns
    .filter((c) => c.role !== 'label')
    .map((c) => ({ name: c.name, type: c.type, values: c.type === 'utf8' ? new Uint8Array(0) : new (c.type === 'int64' || c.type === 'timestamp_us' ? BigInt64Array : c.type === 'float64' ? Float64Array : c.type === 'float32' ? Float32Array : c.type === 'bool' ? Uint8Array : Int32Array)(0), ...(c.type === 'utf8' ? { offsets: new Int32Array(1) } : {}), validity: null, nullCount: 0 }));
  return new ColumnBatch(cols, 0);
}
