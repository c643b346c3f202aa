import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { KilnError } from '../../bindings/errors.js';
import { compileSchema } from '../validate/schema.js';
import { schemaPath } from '../version.js';

/** A source file of a spec (path absolute once loaded). */
export interface SourceSpec {
  path: string;
  format?: 'auto' | 'csv' | 'parquet' | 'ndjson';
  skip?: number;
  delimiter?: string;
  header?: boolean;
  null?: string[];
}

/** A declared input column (checked by --validate-in). */
export interface ColumnDecl {
  type?: 'number' | 'integer' | 'string' | 'boolean' | 'timestamp';
  nullable?: boolean;
  min?: number;
  max?: number;
}

interface FeatureBase {
  name: string;
  range?: [number, number];
  allow_nan?: boolean;
  nullable?: boolean;
}

export type WindowFn = 'mean' | 'std' | 'min' | 'max' | 'sum' | 'zscore' | 'pct_change' | 'momentum' | 'volatility';
export type CrossFn = 'correlation' | 'spread' | 'ratio';
export type CalendarPart = 'dow' | 'is_weekend' | 'hour' | 'month';

export interface SqlFeature extends FeatureBase { kind: 'sql'; expr: string }
export interface WindowFeature extends FeatureBase { kind: 'window'; fn: WindowFn; column: string; window?: number | string; periods?: number; exclusive?: boolean; min_periods?: number }
export interface CrossFeature extends FeatureBase { kind: 'cross'; fn: CrossFn; column: string; left: string; right: string; window?: number | string }
export interface CalendarFeature extends FeatureBase { kind: 'calendar'; part: CalendarPart; column?: string }
export interface LagFeature extends FeatureBase { kind: 'lag'; column: string; periods?: number }
export interface CategoryFeature extends FeatureBase { kind: 'category'; column: string; encoding?: 'onehot' | 'ordinal'; top_k?: number; unseen?: 'error' | 'other' | 'missing' }
export interface TextHashFeature extends FeatureBase { kind: 'text_hash'; column: string; bits?: number; seed?: number; bigrams?: boolean; tfidf?: boolean; norm?: 'l2' | 'none' }

/** One feature of a spec. */
export type FeatureDef = SqlFeature | WindowFeature | CrossFeature | CalendarFeature | LagFeature | CategoryFeature | TextHashFeature;

/** A parsed, validated feature spec (schemas/feature-spec.schema.json). Source paths are absolute. */
export interface FeatureSpec {
  version: 1;
  sources?: Record<string, SourceSpec>;
  input?: string;
  entity?: string;
  time?: string;
  dedupe?: string[];
  columns?: Record<string, ColumnDecl>;
  features: FeatureDef[];
  label?: { name: string; expr: string };
  split?: { kind: 'temporal' | 'random'; train: number; valid: number; test: number; seed?: number; stratify?: boolean };
}

const COMMON_KEYS = ['name', 'kind', 'range', 'allow_nan', 'nullable'];
const KIND_KEYS: Record<FeatureDef['kind'], string[]> = {
  sql: ['expr'],
  window: ['fn', 'column', 'window', 'periods', 'exclusive', 'min_periods'],
  cross: ['fn', 'column', 'left', 'right', 'window'],
  calendar: ['part', 'column'],
  lag: ['column', 'periods'],
  category: ['column', 'encoding', 'top_k', 'unseen'],
  text_hash: ['column', 'bits', 'seed', 'bigrams', 'tfidf', 'norm'],
};

/** Names of the columns a spec adds besides its features. */
export const SPLIT_COLUMN = 'split';

function specError(where: string, message: string, file?: string): KilnError {
  return new KilnError('E_SCHEMA', `feature spec${file ? ` ${file}` : ''}: ${where}: ${message}`, { file, field: where });
}

/** "features[3] (volatility_7d).fn" for the JSON pointer /features/3/fn. */
function fieldName(pointer: string, doc: unknown): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  let node: unknown = doc;
  for (const p of parts) {
    if (Array.isArray(node)) {
      const item = node[Number(p)] as { name?: unknown } | undefined;
      out += `[${p}]${item && typeof item === 'object' && typeof item.name === 'string' ? ` (${item.name})` : ''}`;
      node = item;
    } else {
      out += out ? `.${p}` : p;
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[p] : undefined;
    }
  }
  return out || '(top level)';
}

/** Parses spec text (YAML or JSON) without validating it. */
export function parseSpecText(text: string, file?: string): unknown {
  try {
    return YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new KilnError('E_SCHEMA', `feature spec${file ? ` ${file}` : ''} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`, { file });
  }
}

/**
 * Validates a spec object against schemas/feature-spec.schema.json and kiln's own rules (unique
 * names, known references, window rules); errors are E_SCHEMA naming the field. Relative source
 * paths are resolved against `baseDir` (the spec file's folder).
 */
export function validateSpec(value: unknown, opts: { baseDir?: string; file?: string } = {}): FeatureSpec {
  const file = opts.file;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw specError('(top level)', 'must be a mapping (object)', file);
  const obj = value as Record<string, unknown>;
  if (obj.version !== undefined && obj.version !== 1) {
    throw specError('version', `is ${JSON.stringify(obj.version)}; this kiln reads version 1 only`, file);
  }
  const { validate } = compileSchema(schemaPath('feature-spec.schema.json'), { allErrors: true });
  if (!validate(value)) {
    const errs = validate.errors ?? [];
    // Prefer the most specific errors (if/then noise and oneOf branches say little).
    const useful = errs.filter((e) => e.keyword !== 'if' && e.keyword !== 'oneOf');
    const list = (useful.length ? useful : errs).slice(0, 8).map((e) => {
      const params = e.params as Record<string, unknown>;
      let pointer = e.instancePath;
      let message = e.message ?? e.keyword;
      if (e.keyword === 'required') {
        pointer += `/${String(params.missingProperty)}`;
        message = 'is required';
      } else if (e.keyword === 'additionalProperties') {
        pointer += `/${String(params.additionalProperty)}`;
        message = 'is not a known field';
      } else if (e.keyword === 'enum') {
        message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      }
      return `${fieldName(pointer, value)} ${message}`;
    });
    throw new KilnError('E_SCHEMA', `feature spec${file ? ` ${file}` : ''} is invalid: ${list.join('; ')}`, { file, errors: list });
  }
  const spec = structuredClone(value) as FeatureSpec;
  checkSemantics(spec, file);
  if (spec.sources) {
    const base = opts.baseDir ?? process.cwd();
    for (const src of Object.values(spec.sources)) src.path = path.resolve(base, src.path);
  }
  return spec;
}

/** Reads, parses and validates a spec file (YAML or JSON). */
export function loadSpec(file: string): FeatureSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new KilnError('E_IO', `cannot read feature spec ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { file });
  }
  return validateSpec(parseSpecText(text, file), { baseDir: path.dirname(path.resolve(file)), file });
}

/** Window length: rows, or microseconds of a time range. */
export type WindowLength = { rows: number } | { micros: number; text: string };

const UNIT_US: Record<string, number> = { s: 1e6, m: 60e6, min: 60e6, h: 3600e6, d: 86400e6, w: 7 * 86400e6 };

/** Parses `7` (rows) or `7d` (a time range). */
export function parseWindow(w: number | string): WindowLength {
  if (typeof w === 'number') return { rows: w };
  const m = /^([1-9][0-9]*)(s|m|min|h|d|w)$/.exec(w);
  if (!m) throw new KilnError('E_SCHEMA', `window "${w}" must be a row count or a time range like 7d, 12h, 30min`);
  return { micros: Number(m[1]) * UNIT_US[m[2]!]!, text: w };
}

function checkSemantics(spec: FeatureSpec, file?: string): void {
  const err = (where: string, msg: string): KilnError => specError(where, msg, file);
  const names = new Map<string, number>();
  const needsTime: string[] = [];
  spec.features.forEach((f, i) => {
    const where = `features[${i}] (${f.name})`;
    const allowed = [...COMMON_KEYS, ...KIND_KEYS[f.kind]];
    for (const key of Object.keys(f)) if (!allowed.includes(key)) throw err(`${where}.${key}`, `is not a field of ${f.kind} features (allowed: ${allowed.join(', ')})`);
    if (names.has(f.name)) throw err(`${where}.name`, `"${f.name}" is already the name of features[${names.get(f.name)}]`);
    names.set(f.name, i);
    if (f.range && !(f.range[0] <= f.range[1])) throw err(`${where}.range`, 'min must not exceed max');
    switch (f.kind) {
      case 'window': {
        const rowFns = ['pct_change'];
        if (rowFns.includes(f.fn)) {
          if (f.window !== undefined) throw err(`${where}.window`, 'pct_change takes periods (rows back), not window');
        } else if (f.window === undefined) throw err(`${where}.window`, `is required for ${f.fn}`);
        if (f.periods !== undefined && f.fn !== 'pct_change') throw err(`${where}.periods`, `applies to pct_change only (${f.fn} uses window)`);
        if (f.exclusive && (f.fn === 'pct_change' || f.fn === 'momentum')) throw err(`${where}.exclusive`, `does not apply to ${f.fn}`);
        if (f.window !== undefined) parseWindow(f.window);
        needsTime.push(where);
        break;
      }
      case 'cross':
        if (f.fn === 'correlation' && f.window === undefined) throw err(`${where}.window`, 'is required for correlation');
        if (f.fn !== 'correlation' && f.window !== undefined) throw err(`${where}.window`, `does not apply to ${f.fn}`);
        if (f.left === f.right) throw err(`${where}.right`, 'must differ from left');
        if (!spec.entity) throw err(`${where}`, 'cross features need an `entity` column');
        needsTime.push(where);
        break;
      case 'lag':
        needsTime.push(where);
        break;
      case 'calendar':
        if (!f.column && !spec.time) throw err(`${where}.column`, 'is required when the spec has no `time`');
        break;
      case 'category':
        if (f.top_k !== undefined && f.encoding !== 'ordinal' && f.top_k > 1000) throw err(`${where}.top_k`, 'one-hot encodings keep at most 1000 values');
        break;
      default:
        break;
    }
  });
  if (needsTime.length && !spec.time) throw err(needsTime[0]!, 'window, lag and cross features need a `time` column');
  if (spec.label && names.has(spec.label.name)) throw err('label.name', `"${spec.label.name}" is also a feature name`);
  const reserved = [SPLIT_COLUMN, spec.entity, spec.time].filter(Boolean) as string[];
  for (const r of reserved) if (names.has(r)) throw err(`features[${names.get(r)}] (${r}).name`, `"${r}" is reserved (entity, time or split column)`);
  if (spec.label && reserved.includes(spec.label.name)) throw err('label.name', `"${spec.label.name}" is reserved (entity, time or split column)`);
  if (spec.split) {
    const s = spec.split;
    const total = s.train + s.valid + s.test;
    if (Math.abs(total - 1) > 1e-9) throw err('split', `train + valid + test must be 1 (got ${total})`);
    if (s.kind === 'temporal' && !spec.time) throw err('split.kind', 'a temporal split needs a `time` column');
    if (s.stratify && !spec.label) throw err('split.stratify', 'stratification needs a label');
    if (s.kind === 'temporal' && (s.seed !== undefined || s.stratify !== undefined)) throw err('split', 'seed and stratify apply to random splits only');
  }
  if (spec.sources && Object.keys(spec.sources).some((k) => k.toLowerCase() === 'input')) {
    throw err('sources.input', '"input" is the name of the input relation; pick another source name');
  }
}
