// --validate-in and --validate-out: fail closed with E_VALIDATION naming the column and the row.
import type { DuckDBConnection } from '@duckdb/node-api';
import { KilnError } from '../../bindings/errors.js';
import { duckdbError } from '../io/duckdb.js';
import { sqlIdent as q, sqlString } from '../io/formats.js';
import type { FittedEncoder } from './encode.js';
import { featureInputs, relationSql, type InputColumn, type InputRelation } from './plan.js';
import type { FeatureSchemaColumn } from './schema-doc.js';
import type { FeatureDef, FeatureSpec } from './spec.js';

interface RowCheck {
  column: string;
  problem: string;
  /** SQL that is true on a bad row. */
  bad: string;
}

const NUMERIC_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$/i;
const INTEGER_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/i;
const FLOAT_TYPE = /^(FLOAT|DOUBLE)$/i;
const TIME_TYPE = /^(DATE|TIMESTAMP.*)$/i;

function fail(message: string, details: Record<string, unknown>): KilnError {
  return new KilnError('E_VALIDATION', message, details);
}

async function readRows(conn: DuckDBConnection, sql: string): Promise<unknown[][]> {
  try {
    return (await conn.runAndReadAll(sql)).getRows() as unknown[][];
  } catch (err) {
    throw duckdbError(err, { stage: 'validate' });
  }
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'missing';
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Runs row checks in one pass; throws for the earliest bad row (listing how many checks failed). */
async function runRowChecks(conn: DuckDBConnection, from: string, rowCol: string, rowBase: number, checks: RowCheck[], where: string, keys: string[]): Promise<void> {
  if (!checks.length) return;
  const aggs = checks.map((c) => `min(${rowCol}) FILTER (WHERE ${c.bad})`).join(', ');
  const found = (await readRows(conn, `SELECT ${aggs} FROM ${from}`))[0]!;
  const failed = checks.map((c, i) => ({ c, row: found[i] === null ? null : Number(found[i]) })).filter((x) => x.row !== null) as Array<{ c: RowCheck; row: number }>;
  if (!failed.length) return;
  failed.sort((a, b) => a.row - b.row);
  const first = failed[0]!;
  const shown = [first.c.column, ...keys.filter((k) => k !== first.c.column)].map(q).join(', ');
  const vals = (await readRows(conn, `SELECT ${shown} FROM ${from} WHERE ${rowCol} = ${first.row} LIMIT 1`))[0] ?? [];
  const keyText = keys.filter((k) => k !== first.c.column).map((k, i) => `${k}=${show(vals[i + 1])}`);
  const rowNo = first.row + rowBase;
  const more = failed.length > 1 ? `; ${failed.length - 1} more check(s) failed: ${failed.slice(1, 6).map((x) => `${x.c.column} ${x.c.problem} at row ${x.row + rowBase}`).join(', ')}` : '';
  throw fail(`${where} row ${rowNo}${keyText.length ? ` (${keyText.join(', ')})` : ''}: column ${first.c.column} ${first.c.problem} (value ${show(vals[0])})${more}`, {
    column: first.c.column,
    row: rowNo,
    where,
    problem: first.c.problem,
  });
}

/** Columns of the input the SQL stage reads as numbers (windows, cross, lags). */
function numericInputs(spec: FeatureSpec, have: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  spec.features.forEach((f: FeatureDef, i) => {
    if (f.kind === 'window' || f.kind === 'cross') for (const c of featureInputs(spec, f)) if (have.has(c)) out.set(c, `features[${i}] (${f.name})`);
  });
  return out;
}

/**
 * --validate-in: the input's columns and types against the spec (declared `columns`, the time,
 * entity, window and text columns), then its rows (the first `limit`, else all): missing keys,
 * unparseable times, NaN/inf in window inputs, nulls and ranges of declared columns.
 */
export async function validateInput(conn: DuckDBConnection, spec: FeatureSpec, rel: InputRelation, columns: InputColumn[], limit?: number): Promise<void> {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const typeError = (col: string, need: string, by: string): KilnError =>
    fail(`input column ${col} has type ${types.get(col)}, ${by} needs ${need}`, { column: col, type: types.get(col), field: by });
  const checks: RowCheck[] = [];
  if (spec.time) {
    const t = types.get(spec.time)!;
    if (!TIME_TYPE.test(t) && t.toUpperCase() !== 'VARCHAR') throw typeError(spec.time, 'a DATE, TIMESTAMP or text timestamp', 'time');
    checks.push({ column: spec.time, problem: 'is missing', bad: `${q(spec.time)} IS NULL` });
    if (t.toUpperCase() === 'VARCHAR') checks.push({ column: spec.time, problem: 'is not a timestamp', bad: `${q(spec.time)} IS NOT NULL AND try_cast(${q(spec.time)} AS TIMESTAMP) IS NULL` });
  }
  if (spec.entity) checks.push({ column: spec.entity, problem: 'is missing', bad: `${q(spec.entity)} IS NULL` });
  for (const [col, by] of numericInputs(spec, new Set(types.keys()))) {
    const t = types.get(col)!;
    if (!NUMERIC_TYPE.test(t)) throw typeError(col, 'a number', by);
    if (FLOAT_TYPE.test(t)) checks.push({ column: col, problem: 'is NaN or infinite', bad: `isnan(${q(col)}) OR isinf(${q(col)})` });
  }
  spec.features.forEach((f, i) => {
    if (f.kind === 'text_hash' && types.has(f.column) && types.get(f.column)!.toUpperCase() !== 'VARCHAR') throw typeError(f.column, 'text (VARCHAR)', `features[${i}] (${f.name})`);
  });
  for (const [col, decl] of Object.entries(spec.columns ?? {})) {
    const t = types.get(col);
    if (t === undefined) throw fail(`input has no column "${col}" (declared in columns); input columns: ${[...types.keys()].join(', ')}`, { column: col });
    const by = `columns.${col}.type`;
    if (decl.type === 'number' && !NUMERIC_TYPE.test(t)) throw typeError(col, 'a number', by);
    if (decl.type === 'integer' && !INTEGER_TYPE.test(t)) throw typeError(col, 'an integer', by);
    if (decl.type === 'string' && t.toUpperCase() !== 'VARCHAR') throw typeError(col, 'text (VARCHAR)', by);
    if (decl.type === 'boolean' && t.toUpperCase() !== 'BOOLEAN') throw typeError(col, 'a BOOLEAN', by);
    if (decl.type === 'timestamp' && !TIME_TYPE.test(t)) throw typeError(col, 'a DATE or TIMESTAMP', by);
    if (decl.nullable === false) checks.push({ column: col, problem: 'is missing (declared nullable: false)', bad: `${q(col)} IS NULL` });
    if (NUMERIC_TYPE.test(t)) {
      if (FLOAT_TYPE.test(t)) checks.push({ column: col, problem: 'is NaN or infinite', bad: `isnan(${q(col)}) OR isinf(${q(col)})` });
      if (decl.min !== undefined) checks.push({ column: col, problem: `is below the declared min ${decl.min}`, bad: `${q(col)} < ${decl.min}` });
      if (decl.max !== undefined) checks.push({ column: col, problem: `is above the declared max ${decl.max}`, bad: `${q(col)} > ${decl.max}` });
    }
  }
  const limited = limit !== undefined ? `SELECT * FROM (${relationSql(rel)}) LIMIT ${limit}` : relationSql(rel);
  const from = `(SELECT *, row_number() OVER () AS __vrow FROM (${limited}))`;
  await runRowChecks(conn, from, '__vrow', 0, checks, 'validate-in: input', [spec.entity, spec.time].filter(Boolean) as string[]);
}

const EXPECTED_TYPE: Partial<Record<FeatureDef['kind'], string>> = { window: 'DOUBLE', cross: 'DOUBLE', calendar: 'INTEGER' };

/**
 * --validate-out: a written file's columns (names, order and types as in the first file, and the
 * types each feature kind produces), then its rows (first `limit`, else all): NaN/inf where the
 * feature does not allow_nan, missing values where nullable: false, declared ranges.
 */
export async function validateOutputFile(
  conn: DuckDBConnection,
  spec: FeatureSpec,
  file: string,
  name: string,
  expected: FeatureSchemaColumn[],
  encoders: Record<string, FittedEncoder>,
  limit?: number,
): Promise<void> {
  const described = await readRows(conn, `DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
  const got = described.map((r) => ({ name: String(r[0]), type: String(r[1]) }));
  const names = got.map((g) => g.name).join(', ');
  if (got.length !== expected.length || got.some((g, i) => g.name !== expected[i]!.name)) {
    throw fail(`validate-out: ${name} has columns [${names}], expected [${expected.map((e) => e.name).join(', ')}]`, { where: name });
  }
  const featureOf = new Map<string, FeatureDef>();
  for (const f of spec.features) for (const o of encoders[f.name]?.outputs ?? [f.name]) featureOf.set(o, f);
  const checks: RowCheck[] = [];
  got.forEach((g, i) => {
    if (g.type !== expected[i]!.duckdbType) throw fail(`validate-out: ${name} column ${g.name} has type ${g.type}, expected ${expected[i]!.duckdbType}`, { column: g.name, where: name });
    const f = featureOf.get(g.name);
    if (!f) return;
    const want = f.kind === 'category' ? (encoders[f.name] as { encoding?: string } | undefined)?.encoding === 'ordinal' ? 'INTEGER' : 'FLOAT' : f.kind === 'text_hash' ? 'FLOAT' : EXPECTED_TYPE[f.kind];
    if (want && g.type !== want) throw fail(`validate-out: ${name} column ${g.name} (${f.kind} feature) has type ${g.type}, expected ${want}`, { column: g.name, where: name });
    const col = q(g.name);
    if (FLOAT_TYPE.test(g.type) && !f.allow_nan) checks.push({ column: g.name, problem: 'is NaN or infinite', bad: `isnan(${col}) OR isinf(${col})` });
    if (f.nullable === false) checks.push({ column: g.name, problem: 'is missing (nullable: false)', bad: `${col} IS NULL` });
    if (f.range && NUMERIC_TYPE.test(g.type)) checks.push({ column: g.name, problem: `is outside the declared range [${f.range[0]}, ${f.range[1]}]`, bad: `${col} < ${f.range[0]} OR ${col} > ${f.range[1]}` });
  });
  const from = `(SELECT * FROM read_parquet(${sqlString(file)}, file_row_number = true)${limit !== undefined ? ` WHERE file_row_number < ${limit}` : ''})`;
  await runRowChecks(conn, from, 'file_row_number', 1, checks, `validate-out: ${name}`, [spec.entity, spec.time].filter(Boolean) as string[]);
}
