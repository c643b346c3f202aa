// Feature spec -> DuckDB SQL. One compiler serves the offline build (input = the spec's sources)
// and applyFeatures (input = a batch of rows): the same spec gives the same SQL over the same rows.
import { KilnError } from '../../bindings/errors.js';
import { sourceSql, sqlIdent as q, sqlString, type ReadOptions } from '../io/formats.js';
import { parseWindow, SPLIT_COLUMN, type FeatureDef, type FeatureSpec, type WindowFeature, type WindowLength } from './spec.js';

/** Row id column added to the input relation: 1-based position as read. */
export const ROW_ID = '__rid';
/** Prefix of the hidden stage columns that carry an encoder's raw input. */
export const ENCODER_INPUT_PREFIX = '__enc_';

/** The input relation: CTEs for the sources and a SELECT that yields the rows features are computed over. */
export interface InputRelation {
  ctes: string[];
  select: string;
}

/** A column of the input relation (DuckDB type). */
export interface InputColumn {
  name: string;
  type: string;
}

/** Builds the input relation of a build: one CTE per source (plus `input` for a command-line file). */
export function buildInputRelation(spec: FeatureSpec, input?: { file: string; format?: ReadOptions['format'] }): InputRelation {
  const ctes: string[] = [];
  for (const [name, src] of Object.entries(spec.sources ?? {})) {
    const read: ReadOptions = { format: src.format ?? 'auto', skip: src.skip, delimiter: src.delimiter, header: src.header, nullStrings: src.null };
    ctes.push(`${q(name)} AS (SELECT * FROM ${sourceSql(src.path, read)})`);
  }
  if (input) ctes.push(`${q('input')} AS (SELECT * FROM ${sourceSql(input.file, { format: input.format ?? 'auto' })})`);
  let select = spec.input;
  if (!select) {
    const names = Object.keys(spec.sources ?? {});
    if (input) select = `SELECT * FROM ${q('input')}`;
    else if (names.length === 1) select = `SELECT * FROM ${q(names[0]!)}`;
    else if (names.length === 0) throw new KilnError('E_USAGE', 'the feature spec has no sources and no input file was given');
    else throw new KilnError('E_SCHEMA', `feature spec: input: is required when there are several sources (${names.join(', ')})`, { field: 'input' });
  }
  return { ctes, select };
}

/** `WITH <ctes> <select>` of a relation (or the select alone). */
export function relationSql(rel: InputRelation): string {
  return rel.ctes.length ? `WITH ${rel.ctes.join(',\n  ')}\n${rel.select}` : rel.select;
}

/** The input relation numbered: all its columns plus __rid. */
export function numberedInputSql(rel: InputRelation): string {
  return `SELECT *, row_number() OVER () AS ${ROW_ID} FROM (${relationSql(rel)})`;
}

/** Where a feature is computed: in the SQL stage or by an encoder on batches. */
export function isEncoded(f: FeatureDef): f is Extract<FeatureDef, { kind: 'category' | 'text_hash' }> {
  return f.kind === 'category' || f.kind === 'text_hash';
}

/** Columns of the input relation a feature reads (for checks and layering); sql features: none known. */
export function featureInputs(spec: FeatureSpec, f: FeatureDef): string[] {
  switch (f.kind) {
    case 'sql':
      return [];
    case 'calendar':
      return [f.column ?? spec.time!];
    default:
      return [f.column];
  }
}

function mentions(expr: string, name: string): boolean {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_"])${esc}($|[^A-Za-z0-9_])|"${esc}"`, 'i').test(expr);
}

/** Names of the features a feature depends on. */
function featureDeps(spec: FeatureSpec, f: FeatureDef, names: Set<string>): string[] {
  if (f.kind === 'sql') return [...names].filter((n) => n !== f.name && mentions(f.expr, n));
  return featureInputs(spec, f).filter((c) => names.has(c));
}

/** Options of the stage compiler. */
export interface StageOptions {
  /**
   * 'build' adds the label and split columns; 'apply' orders rows as they came in; 'relation'
   * yields every column of the last layer (input columns, __rid, features), unordered (the input
   * of the native window engine).
   */
  mode: 'build' | 'apply' | 'relation';
  /** Features already present as columns of the input relation (computed by the native engine). */
  precomputed?: ReadonlySet<string>;
  /** The input relation already carries __rid, deduped rows and a TIMESTAMP time column. */
  hasRowId?: boolean;
}

/** The compiled stage: its SQL and its output columns (in order). */
export interface StagePlan {
  sql: string;
  columns: string[];
  /** Hidden encoder-input column of each encoded feature. */
  encoderInputs: Record<string, string>;
}

const FRAME_EPS_US = 1;

function frame(win: WindowLength, exclusive: boolean): string {
  if ('rows' in win) return exclusive ? `ROWS BETWEEN ${win.rows} PRECEDING AND 1 PRECEDING` : `ROWS BETWEEN ${win.rows - 1} PRECEDING AND CURRENT ROW`;
  // Time ranges: (t - w, t] inclusive of the current row; [t - w, t) when exclusive.
  return exclusive
    ? `RANGE BETWEEN to_microseconds(CAST(${win.micros} AS BIGINT)) PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW`
    : `RANGE BETWEEN to_microseconds(CAST(${win.micros - FRAME_EPS_US} AS BIGINT)) PRECEDING AND CURRENT ROW`;
}

function windowExpr(spec: FeatureSpec, f: WindowFeature, helper: string | null): string {
  const part = spec.entity ? `PARTITION BY ${q(spec.entity)} ` : '';
  const order = `ORDER BY ${q(spec.time!)}`;
  const over = (fr?: string): string => `OVER (${part}${order}${fr ? ` ${fr}` : ''})`;
  const x = `CAST(${q(f.column)} AS DOUBLE)`;
  const ratio = (num: string, den: string): string => `(${num} / nullif(${den}, 0) - 1)`;
  if (f.fn === 'pct_change') return ratio(x, `lag(${x}, ${f.periods ?? 1}) ${over()}`);
  const win = parseWindow(f.window!);
  if (f.fn === 'momentum') {
    if ('rows' in win) return ratio(x, `lag(${x}, ${win.rows}) ${over()}`);
    return ratio(x, `last_value(${x}) ${over(`RANGE BETWEEN UNBOUNDED PRECEDING AND to_microseconds(CAST(${win.micros} AS BIGINT)) PRECEDING`)}`);
  }
  const fr = frame(win, Boolean(f.exclusive));
  const src = f.fn === 'volatility' ? q(helper!) : x;
  const agg = (fn: string): string => `${fn}(${src}) ${over(fr)}`;
  let expr: string;
  switch (f.fn) {
    case 'mean':
      expr = agg('avg');
      break;
    case 'std':
    case 'volatility':
      expr = agg('stddev_samp');
      break;
    case 'min':
      expr = agg('min');
      break;
    case 'max':
      expr = agg('max');
      break;
    case 'sum':
      expr = agg('sum');
      break;
    case 'zscore':
      expr = `((${x} - ${agg('avg')}) / nullif(${agg('stddev_samp')}, 0))`;
      break;
  }
  const minp = f.min_periods ?? 1;
  if (minp > 1) expr = `CASE WHEN count(${src}) ${over(fr)} >= ${minp} THEN ${expr} END`;
  return expr;
}

function calendarExpr(spec: FeatureSpec, f: Extract<FeatureDef, { kind: 'calendar' }>): string {
  const c = `CAST(${q(f.column ?? spec.time!)} AS TIMESTAMP)`;
  switch (f.part) {
    case 'dow':
      return `CAST(isodow(${c}) - 1 AS INTEGER)`;
    case 'is_weekend':
      return `CAST(isodow(${c}) >= 6 AS INTEGER)`;
    case 'hour':
      return `CAST(hour(${c}) AS INTEGER)`;
    case 'month':
      return `CAST(month(${c}) AS INTEGER)`;
  }
}

/** The SQL that turns a DuckDB column of `type` into a TIMESTAMP. */
export function timestampExpr(column: string, type: string): string {
  const t = type.toUpperCase();
  if (t === 'TIMESTAMP') return q(column);
  if (t === 'TIMESTAMP WITH TIME ZONE') return `timezone('UTC', ${q(column)})`;
  return `CAST(${q(column)} AS TIMESTAMP)`;
}

/**
 * Compiles the stage SQL over an input relation: row ids, dedupe, the SQL-computed features in
 * dependency layers (windows, lags, calendar, cross, sql), encoder inputs, then (build mode) the
 * label and split. Rows come out ordered by time, entity and row id (build) or by row id (apply).
 */
export function compileStage(spec: FeatureSpec, rel: InputRelation, inputColumns: InputColumn[], opts: StageOptions): StagePlan {
  const ctes = [...rel.ctes, `__in AS (${rel.select})`, opts.hasRowId ? `__num AS (SELECT * FROM __in)` : `__num AS (SELECT *, row_number() OVER () AS ${ROW_ID} FROM __in)`];
  const types = new Map(inputColumns.map((c) => [c.name, c.type]));
  let baseSelect = 'SELECT *';
  if (spec.time) {
    const t = types.get(spec.time);
    if (t === undefined) throw new KilnError('E_VALIDATION', `input has no column "${spec.time}" (the spec's time); input columns: ${[...types.keys()].join(', ')}`, { column: spec.time });
    if (t.toUpperCase() !== 'TIMESTAMP' && !opts.hasRowId) baseSelect = `SELECT * REPLACE (${timestampExpr(spec.time, t)} AS ${q(spec.time)})`;
  }
  const dedupe = spec.dedupe?.length && !opts.hasRowId ? ` QUALIFY row_number() OVER (PARTITION BY ${spec.dedupe.map(q).join(', ')} ORDER BY ${ROW_ID}) = 1` : '';
  ctes.push(`__l0 AS (${baseSelect} FROM __num${dedupe})`);

  // Layering: a feature goes one layer above the features it reads; volatility needs a helper below it.
  const sqlFeatures = spec.features.filter((f) => !isEncoded(f) && !opts.precomputed?.has(f.name));
  const names = new Set(sqlFeatures.map((f) => f.name));
  const layer = new Map<string, number>();
  const helperOf = new Map<string, string>();
  const visiting = new Set<string>();
  const byName = new Map(spec.features.map((f) => [f.name, f]));
  const layerOf = (f: FeatureDef): number => {
    const known = layer.get(f.name);
    if (known !== undefined) return known;
    if (visiting.has(f.name)) throw new KilnError('E_SCHEMA', `feature spec: features: "${f.name}" depends on itself (directly or through other features)`, { field: f.name });
    visiting.add(f.name);
    let l = 1;
    for (const d of featureDeps(spec, f, names)) l = Math.max(l, layerOf(byName.get(d)!) + 1);
    if (f.kind === 'window' && f.fn === 'volatility') l += 1;
    visiting.delete(f.name);
    layer.set(f.name, l);
    return l;
  };
  let top = 0;
  for (const f of sqlFeatures) top = Math.max(top, layerOf(f));
  const part = spec.entity ? `PARTITION BY ${q(spec.entity)} ` : '';
  let crossId = 0;
  for (let k = 1; k <= top; k++) {
    const exprs: string[] = [];
    const joins: string[] = [];
    for (const f of sqlFeatures) {
      if (f.kind === 'window' && f.fn === 'volatility' && layer.get(f.name) === k + 1) {
        const h = `__h_${f.name}`;
        helperOf.set(f.name, h);
        const x = `CAST(${q(f.column)} AS DOUBLE)`;
        exprs.push(`(${x} / nullif(lag(${x}) OVER (${part}ORDER BY ${q(spec.time!)}), 0) - 1) AS ${q(h)}`);
      }
      if (layer.get(f.name) !== k) continue;
      switch (f.kind) {
        case 'sql':
          exprs.push(`(${f.expr}) AS ${q(f.name)}`);
          break;
        case 'window':
          exprs.push(`${windowExpr(spec, f, helperOf.get(f.name) ?? null)} AS ${q(f.name)}`);
          break;
        case 'lag':
          exprs.push(`lag(${q(f.column)}, ${f.periods ?? 1}) OVER (${part}ORDER BY ${q(spec.time!)}) AS ${q(f.name)}`);
          break;
        case 'calendar':
          exprs.push(`${calendarExpr(spec, f)} AS ${q(f.name)}`);
          break;
        case 'cross': {
          const id = ++crossId;
          const e = `CAST(${q(spec.entity!)} AS VARCHAR)`;
          const L = sqlString(f.left);
          const R = sqlString(f.right);
          const t = q(spec.time!);
          const pairs =
            `SELECT ${t} AS __t, max(CAST(${q(f.column)} AS DOUBLE)) FILTER (WHERE ${e} = ${L}) AS __a, ` +
            `max(CAST(${q(f.column)} AS DOUBLE)) FILTER (WHERE ${e} = ${R}) AS __b FROM __l${k - 1} WHERE ${e} IN (${L}, ${R}) GROUP BY ${t} ` +
            `HAVING count(*) FILTER (WHERE ${e} = ${L}) > 0 AND count(*) FILTER (WHERE ${e} = ${R}) > 0`;
          let value: string;
          if (f.fn === 'spread') value = `SELECT __t, __a - __b AS __v FROM (${pairs})`;
          else if (f.fn === 'ratio') value = `SELECT __t, __a / nullif(__b, 0) AS __v FROM (${pairs})`;
          else {
            const fr = frame(parseWindow(f.window!), false);
            value =
              `SELECT __t, CASE WHEN isnan(__c) OR isinf(__c) THEN NULL ELSE __c END AS __v FROM ` +
              `(SELECT __t, corr(__a, __b) OVER (ORDER BY __t ${fr}) AS __c FROM (${pairs}))`;
          }
          ctes.push(`__x${id} AS (${value})`);
          joins.push(`LEFT JOIN __x${id} ON __x${id}.__t = __p.${t}`);
          exprs.push(`__x${id}.__v AS ${q(f.name)}`);
          break;
        }
        default:
          break;
      }
    }
    ctes.push(`__l${k} AS (SELECT __p.*${exprs.length ? ', ' + exprs.join(', ') : ''} FROM __l${k - 1} AS __p ${joins.join(' ')})`);
  }
  let last = `__l${top}`;
  if (opts.mode === 'relation') return { sql: `WITH ${ctes.join(',\n  ')}\nSELECT * FROM ${last}`, columns: [], encoderInputs: {} };
  const keys = [spec.entity, spec.time].filter((c): c is string => Boolean(c));
  const columns: string[] = [...keys];
  const encoderInputs: Record<string, string> = {};
  const select: string[] = keys.map(q);
  spec.features.forEach((f, i) => {
    if (isEncoded(f)) {
      const hidden = `${ENCODER_INPUT_PREFIX}${i}`;
      encoderInputs[f.name] = hidden;
      select.push(`${q(f.column)} AS ${q(hidden)}`);
      columns.push(hidden);
    } else {
      select.push(q(f.name));
      columns.push(f.name);
    }
  });
  if (opts.mode === 'build' && spec.label) {
    ctes.push(`__lab AS (SELECT *, (${spec.label.expr}) AS ${q(spec.label.name)} FROM ${last})`);
    last = '__lab';
    select.push(q(spec.label.name));
    columns.push(spec.label.name);
  }
  if (opts.mode === 'build' && spec.split) {
    const s = spec.split;
    const cut1 = s.train;
    const cut2 = Math.round((s.train + s.valid) * 1e12) / 1e12;
    let rank: string;
    if (s.kind === 'temporal') rank = `cume_dist() OVER (ORDER BY ${q(spec.time!)})`;
    else {
      const content = inputColumns.map((c) => q(c.name)).join(', ');
      const u = `hash(CAST(${s.seed ?? 0} AS UBIGINT), ${content})`;
      const strat = (s.stratify ?? Boolean(spec.label)) && spec.label ? `PARTITION BY ${q(spec.label.name)} ` : '';
      rank = `(row_number() OVER (${strat}ORDER BY ${u}, ${ROW_ID}) - 0.5) / count(*) OVER (${strat.trim() ? strat : ''})`;
    }
    ctes.push(`__rank AS (SELECT *, ${rank} AS __r FROM ${last})`);
    last = '__rank';
    select.push(`CASE WHEN __r <= ${cut1} THEN 'train' WHEN __r <= ${cut2} THEN 'valid' ELSE 'test' END AS ${q(SPLIT_COLUMN)}`);
    columns.push(SPLIT_COLUMN);
  }
  const order = opts.mode === 'apply' || keys.length === 0 ? ROW_ID : [spec.time, spec.entity, ROW_ID].filter(Boolean).map((c) => (c === ROW_ID ? c : q(c!))).join(', ');
  const sql = `WITH ${ctes.join(',\n  ')}\nSELECT ${select.join(', ')} FROM ${last} ORDER BY ${order}`;
  return { sql, columns, encoderInputs };
}

/** True when the spec computes per-entity, time-ordered features (windows, lags, cross). */
export function needsOrderedSeries(spec: FeatureSpec): boolean {
  return spec.features.some((f) => f.kind === 'window' || f.kind === 'lag' || f.kind === 'cross');
}

/** SQL that finds the first duplicated (entity, time) or missing time, over the deduped input. */
export function seriesCheckSql(spec: FeatureSpec, rel: InputRelation, inputColumns: InputColumn[]): string {
  const stage = compileStage({ ...spec, features: [{ kind: 'sql', name: '__noop', expr: '1' }], label: undefined, split: undefined }, rel, inputColumns, { mode: 'apply' });
  // Reuse the stage's CTEs up to __l0 (row ids, time cast, dedupe).
  const withPart = stage.sql.slice(0, stage.sql.indexOf(',\n  __l1 AS'));
  const keys = [spec.entity, spec.time].filter(Boolean).map((c) => q(c!));
  return (
    `${withPart}\n` +
    `SELECT * FROM (SELECT 'null_time' AS problem, ${keys.map((k) => `CAST(${k} AS VARCHAR)`).join(', ')}, min(${ROW_ID}) AS row, 1 AS n FROM __l0 WHERE ${q(spec.time!)} IS NULL GROUP BY ALL ` +
    `UNION ALL SELECT 'duplicate', ${keys.map((k) => `CAST(${k} AS VARCHAR)`).join(', ')}, min(${ROW_ID}), count(*) FROM __l0 WHERE ${q(spec.time!)} IS NOT NULL GROUP BY ALL HAVING count(*) > 1) ORDER BY row LIMIT 1`
  );
}
