/**
 * Training data: tables read through DuckDB (row limit and entity filter pushed into the query, so
 * nothing past the limit is read), the label column turned into class indices or real targets, and
 * the feature columns chosen.
 */
import fs from 'node:fs';
import path from 'node:path';

import { KilnError } from '../../bindings/errors.js';
import { ColumnBatch, isValidBit, type Column } from '../batch/column-batch.js';
import { concatBatches, takeRows } from '../batch/ops.js';
import { withConnection } from '../io/duckdb.js';
import { resolveFormat, sourceSql, sqlIdent, sqlString, type ReadOptions } from '../io/formats.js';
import { planQuery, scanQuery } from '../io/scan.js';

import type { TrainConfig } from './config.js';

/** Where the rows of each split come from. */
export interface DataSources {
  train: string;
  valid: string | null;
  test: string | null;
}

/** Resolves --data (a file, or a `kiln features` output folder) plus --valid-data / --test-data. */
export function resolveSources(data: string, validData?: string, testData?: string): DataSources {
  if (!fs.existsSync(data)) throw new KilnError('E_IO', `--data ${data}: no such file or folder`, { file: data });
  const check = (f: string | undefined, flag: string): string | null => {
    if (f === undefined) return null;
    if (!fs.existsSync(f) || !fs.statSync(f).isFile()) throw new KilnError('E_IO', `${flag} ${f}: no such file`, { file: f });
    return f;
  };
  if (fs.statSync(data).isDirectory()) {
    const at = (n: string): string | null => (fs.existsSync(path.join(data, n)) ? path.join(data, n) : null);
    const train = at('train.parquet') ?? at('features.parquet');
    if (!train) throw new KilnError('E_IO', `--data ${data} is a folder without train.parquet or features.parquet (the output of kiln features)`, { file: data });
    return { train, valid: check(validData, '--valid-data') ?? at('valid.parquet'), test: check(testData, '--test-data') ?? at('test.parquet') };
  }
  return { train: data, valid: check(validData, '--valid-data'), test: check(testData, '--test-data') };
}

/**
 * The SQL condition selecting the rows of one entity: "BTC" selects "BTC" and pair symbols whose
 * base is BTC ("BTC/USDT", "BTC-USD"); a full pair selects only itself.
 */
export function symbolFilterSql(entity: string, symbol: string): string {
  const e = `CAST(${sqlIdent(entity)} AS VARCHAR)`;
  const sym = sqlString(symbol);
  return `(${e} = ${sym} OR regexp_extract(${e}, '^([^/:_-]+)[/:_-]', 1) = ${sym})`;
}

/** Reads a whole table (up to `rowLimit` rows, only rows of `symbol` or of pairs based on it when given) as one batch. */
export async function readTable(file: string, cfg: TrainConfig, opts: { rowLimit?: number | null; signal?: AbortSignal } = {}): Promise<ColumnBatch> {
  const read: ReadOptions = { nullStrings: cfg.data.nullStrings, ...(cfg.data.delimiter ? { delimiter: cfg.data.delimiter } : {}) };
  if (resolveFormat(file, read) === 'csv') {
    // A yes/no or true/false label column is sniffed as BOOLEAN; keep the file's own words as class names.
    const columns = await withConnection((conn) => planQuery(conn, `SELECT * FROM ${sourceSql(file, read)}`)).catch(() => []);
    const target = cfg.data.target ?? LABEL_CANDIDATES.find((c) => columns.some((p) => p.name === c));
    if (target !== undefined && columns.some((p) => p.name === target && p.duckdbType === 'BOOLEAN')) read.textColumns = [target];
  }
  let sql = `SELECT * FROM ${sourceSql(file, read)}`;
  if (cfg.data.symbol !== null) sql += ` WHERE ${symbolFilterSql(cfg.data.entity, cfg.data.symbol)}`;
  const batches: ColumnBatch[] = [];
  try {
    for await (const b of scanQuery(sql, { batchSize: 262_144, ...(opts.rowLimit ? { limit: opts.rowLimit } : {}), context: { file } })) {
      if (opts.signal?.aborted) throw new KilnError('E_CANCELLED', 'training was cancelled while reading data');
      batches.push(b);
    }
  } catch (err) {
    if (cfg.data.symbol !== null && /not found|Referenced column/i.test((err as Error).message)) {
      throw new KilnError('E_SCHEMA', `--symbol needs the entity column "${cfg.data.entity}" in ${file} (set data.entity in the config)`, { file });
    }
    throw err;
  }
  if (batches.length === 0) return new ColumnBatch([], 0);
  return concatBatches(batches);
}

/** How labels map to what the models see. */
export interface LabelEncoding {
  task: 'binary' | 'multiclass' | 'regression';
  /** Class names in index order (classification); null for regression. */
  classes: string[] | null;
  /** Labels that were mapped onto a training class after dropping a trailing period (e.g. adult's ">50K."). */
  mapped: Record<string, string>;
}

const LABEL_CANDIDATES = ['label', 'class', 'y', 'target'];

/** The label column: the configured one, else the first of label, class, y, target. */
export function targetColumn(batch: ColumnBatch, cfg: TrainConfig, file: string): string {
  if (cfg.data.target !== null) {
    if (!batch.has(cfg.data.target)) throw new KilnError('E_SCHEMA', `target column "${cfg.data.target}" is not in ${file} (columns: ${batch.names.join(', ')})`, { file });
    return cfg.data.target;
  }
  const found = LABEL_CANDIDATES.find((c) => batch.has(c));
  if (!found) throw new KilnError('E_USAGE', `no --target given and ${file} has none of the columns ${LABEL_CANDIDATES.join(', ')}; pass --target <column>`, { file });
  return found;
}

function labelText(c: Column, batch: ColumnBatch, i: number): string | null {
  const v = batch.value(c, i);
  if (v === null) return null;
  return typeof v === 'string' ? v.trim() : String(v);
}

/** The rows whose target is present, and how many were dropped for a missing target (e.g. the last row of a lead() label). */
export function dropUnlabeled(batch: ColumnBatch, target: string, file: string): { batch: ColumnBatch; dropped: number } {
  if (!batch.has(target)) throw new KilnError('E_SCHEMA', `target column "${target}" is not in ${file} (columns: ${batch.names.join(', ')})`, { file, column: target });
  const c = batch.column(target);
  if (c.nullCount === 0) return { batch, dropped: 0 };
  const keep: number[] = [];
  for (let i = 0; i < batch.numRows; i++) if (isValidBit(c.validity, i)) keep.push(i);
  return { batch: takeRows(batch, Int32Array.from(keep)), dropped: batch.numRows - keep.length };
}

/** Decides the task and the classes from the training labels. */
export function fitLabels(batch: ColumnBatch, target: string, cfg: TrainConfig, file: string): LabelEncoding {
  const c = batch.column(target);
  const missing: number[] = [];
  for (let i = 0; i < batch.numRows && missing.length < 5; i++) if (!isValidBit(c.validity, i)) missing.push(i + 1);
  if (missing.length > 0) {
    throw new KilnError('E_SCHEMA', `target "${target}" is missing in ${file} at row${missing.length > 1 ? 's' : ''} ${missing.join(', ')}${c.nullCount > 5 ? ` (and ${c.nullCount - 5} more)` : ''}; labels must be present`, { file, column: target });
  }
  const numeric = c.type !== 'utf8' && c.type !== 'bool';
  let task = cfg.data.task;
  const distinct = new Set<string>();
  let allInteger = true;
  for (let i = 0; i < batch.numRows; i++) {
    if (numeric) {
      const v = Number(batch.value(c, i));
      if (!Number.isFinite(v)) throw new KilnError('E_SCHEMA', `target "${target}" is not finite at row ${i + 1} of ${file}`, { file, column: target });
      if (!Number.isInteger(v)) allInteger = false;
    }
    if (distinct.size <= 256) distinct.add(labelText(c, batch, i)!);
  }
  if (task === 'auto') {
    if (!numeric) task = distinct.size <= 2 ? 'binary' : 'multiclass';
    else if (allInteger && distinct.size <= 20) task = distinct.size <= 2 ? 'binary' : 'multiclass';
    else task = 'regression';
  }
  if (task === 'regression') {
    if (!numeric) throw new KilnError('E_SCHEMA', `task regression needs a numeric target; "${target}" is ${c.type}`, { column: target });
    return { task, classes: null, mapped: {} };
  }
  if (distinct.size > 256) throw new KilnError('E_SCHEMA', `target "${target}" has more than 256 classes; is it a regression target? (set data.task)`, { column: target });
  let classes = [...distinct];
  classes.sort(numeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (classes.length < 2) throw new KilnError('E_SCHEMA', `target "${target}" has a single class (${classes[0] ?? 'none'}) in ${file}; a classifier needs two or more`, { file, column: target });
  if (task === 'binary') {
    if (classes.length !== 2) throw new KilnError('E_SCHEMA', `task binary, but "${target}" has ${classes.length} classes: ${classes.slice(0, 10).join(', ')}`, { column: target });
    const pos = cfg.data.positiveClass;
    if (pos !== null) {
      if (!classes.includes(pos)) throw new KilnError('E_SCHEMA', `data.positiveClass "${pos}" is not a label of "${target}" (${classes.join(', ')})`, { column: target });
      classes = [classes.find((x) => x !== pos)!, pos];
    }
  }
  return { task, classes, mapped: {} };
}

/** Encodes a split's labels with the training classes; unknown labels fail closed (a trailing period is forgiven and reported). */
export function encodeLabels(batch: ColumnBatch, target: string, enc: LabelEncoding, file: string): Float64Array {
  if (!batch.has(target)) throw new KilnError('E_SCHEMA', `target column "${target}" is not in ${file}`, { file });
  const c = batch.column(target);
  const y = new Float64Array(batch.numRows);
  if (enc.classes === null) {
    for (let i = 0; i < batch.numRows; i++) {
      const v = batch.value(c, i);
      const n = v === null ? NaN : Number(v);
      if (!Number.isFinite(n)) throw new KilnError('E_SCHEMA', `target "${target}" is missing or not finite at row ${i + 1} of ${file}`, { file, column: target });
      y[i] = n;
    }
    return y;
  }
  const index = new Map(enc.classes.map((k, i) => [k, i]));
  for (let i = 0; i < batch.numRows; i++) {
    const t = labelText(c, batch, i);
    if (t === null) throw new KilnError('E_SCHEMA', `target "${target}" is missing at row ${i + 1} of ${file}`, { file, column: target });
    let k = index.get(t);
    if (k === undefined && t.endsWith('.') && index.has(t.slice(0, -1))) {
      k = index.get(t.slice(0, -1))!;
      enc.mapped[t] = t.slice(0, -1);
    }
    if (k === undefined) {
      throw new KilnError('E_SCHEMA', `label "${t}" at row ${i + 1} of ${file} is not a training class (${enc.classes.slice(0, 10).join(', ')})`, { file, column: target, row: i + 1 });
    }
    y[i] = k;
  }
  return y;
}

const FEATURE_TYPES = new Set(['bool', 'int32', 'int64', 'float32', 'float64', 'utf8']);

/** Feature columns: the configured list, else every usable column but the target, entity, time and excluded ones. */
export function featureColumns(batch: ColumnBatch, target: string, cfg: TrainConfig, file: string): { features: string[]; skipped: string[] } {
  if (cfg.data.features !== null) {
    for (const f of cfg.data.features) {
      if (!batch.has(f)) throw new KilnError('E_SCHEMA', `feature "${f}" is not in ${file}`, { file, column: f });
      if (!FEATURE_TYPES.has(batch.column(f).type)) throw new KilnError('E_SCHEMA', `feature "${f}" has type ${batch.column(f).type}; features are numeric, bool or text`, { column: f });
    }
    return { features: [...cfg.data.features], skipped: [] };
  }
  const never = new Set([target, cfg.data.entity, ...(cfg.data.time ? [cfg.data.time] : []), ...cfg.data.exclude]);
  for (const x of cfg.data.exclude) if (!batch.has(x)) throw new KilnError('E_SCHEMA', `data.exclude names "${x}", which is not a column of ${file}`, { column: x });
  const features: string[] = [];
  const skipped: string[] = [];
  for (const col of batch.columns) {
    if (never.has(col.name)) continue;
    if (FEATURE_TYPES.has(col.type)) features.push(col.name);
    else skipped.push(col.name);
  }
  if (features.length === 0) throw new KilnError('E_SCHEMA', `${file} has no feature columns besides the target "${target}"`, { file });
  return { features, skipped };
}
