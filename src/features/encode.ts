// Fitted encoders (category dictionaries, hashed TF-IDF) applied to ColumnBatches: the one code
// path the offline build and applyFeatures share.
import { KilnError } from '../../bindings/errors.js';
import { textHash } from '../../bindings/index.js';
import { ColumnBatch, isValidBit, type Column } from '../batch/column-batch.js';
import type { CategoryFeature, TextHashFeature } from './spec.js';

/** Name of the one-hot column that collects rare training values (and unseen ones with unseen: other). */
export const OTHER_VALUE = '__other__';

/** A fitted category encoder. */
export interface CategoryEncoder {
  kind: 'category';
  feature: string;
  column: string;
  encoding: 'onehot' | 'ordinal';
  unseen: 'error' | 'other' | 'missing';
  /** Encoded values, most frequent first (ties by value): one-hot columns / ordinal codes 0..n-1. */
  values: string[];
  /** Other values seen in the training split: encoded as other (one-hot other column, ordinal code n). */
  rare: string[];
  /** Output columns. */
  outputs: string[];
}

/** A fitted hashed-text encoder. */
export interface TextHashEncoder {
  kind: 'text_hash';
  feature: string;
  column: string;
  bits: number;
  seed: number;
  bigrams: boolean;
  tfidf: boolean;
  norm: 'l2' | 'none';
  /** Training documents the IDF was fitted on. */
  documents: number;
  /** idf[b] = ln((1 + documents) / (1 + df[b])) + 1 (smooth IDF), or null without tfidf. */
  idf: number[] | null;
  outputs: string[];
}

export type FittedEncoder = CategoryEncoder | TextHashEncoder;

/** Most rare training values a category encoder stores (beyond them, use text_hash). */
export const MAX_CATEGORY_VOCABULARY = 100_000;

/** Builds a category encoder from training value counts (value -> count). */
export function fitCategory(f: CategoryFeature, counts: Map<string, number>): CategoryEncoder {
  const encoding = f.encoding ?? 'onehot';
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([v]) => v);
  const k = f.top_k ?? (encoding === 'onehot' ? 20 : sorted.length);
  const values = sorted.slice(0, k);
  const rare = sorted.slice(k).sort();
  if (rare.length > MAX_CATEGORY_VOCABULARY) {
    throw new KilnError('E_VALIDATION', `category feature ${f.name}: column ${f.column} has ${sorted.length} distinct training values; use a text_hash feature for columns this wide`, { feature: f.name, column: f.column });
  }
  const outputs = encoding === 'ordinal' ? [f.name] : [...values.map((v) => `${f.name}=${v}`), `${f.name}=${OTHER_VALUE}`];
  return { kind: 'category', feature: f.name, column: f.column, encoding, unseen: f.unseen ?? 'error', values, rare, outputs };
}

/** Builds a text encoder from document frequencies per bucket over `documents` training rows. */
export function fitTextHash(f: TextHashFeature, df: Float64Array, documents: number): TextHashEncoder {
  const bits = f.bits ?? 8;
  const tfidf = f.tfidf ?? true;
  const idf = tfidf ? Array.from(df, (d) => Math.log((1 + documents) / (1 + d)) + 1) : null;
  const outputs = Array.from({ length: 2 ** bits }, (_, b) => `${f.name}_${b}`);
  return { kind: 'text_hash', feature: f.name, column: f.column, bits, seed: f.seed ?? 0, bigrams: f.bigrams ?? false, tfidf, norm: f.norm ?? 'l2', documents, idf, outputs };
}

/** Where rows of a batch come from, for error messages. */
export interface RowContext {
  /** e.g. "train.parquet" or "applyFeatures". */
  where: string;
  /** 1-based row number of the batch's first row within `where`. */
  firstRow: number;
  /** Key columns to quote in messages (entity, time). */
  keys?: string[];
}

/** Unseen-value counts per feature, accumulated by encodeBatch. */
export type UnseenCounts = Record<string, number>;

function utf8Strings(batch: ColumnBatch, c: Column): Array<string | null> {
  const out = new Array<string | null>(batch.numRows);
  if (c.type === 'utf8') {
    const dec = new TextDecoder();
    const o = c.offsets!;
    const bytes = c.values as Uint8Array;
    for (let i = 0; i < batch.numRows; i++) out[i] = isValidBit(c.validity, i) ? dec.decode(bytes.subarray(o[i]!, o[i + 1]!)) : null;
    return out;
  }
  for (let i = 0; i < batch.numRows; i++) {
    const v = batch.value(c, i);
    out[i] = v === null ? null : String(v);
  }
  return out;
}

function describeRow(batch: ColumnBatch, i: number, ctx: RowContext): string {
  const keys = (ctx.keys ?? []).filter((k) => batch.has(k)).map((k) => {
    const v = batch.value(k, i);
    return `${k}=${typeof v === 'bigint' ? String(v) : JSON.stringify(v)}`;
  });
  return `${ctx.where} row ${ctx.firstRow + i}${keys.length ? ` (${keys.join(', ')})` : ''}`;
}

function encodeCategory(batch: ColumnBatch, input: Column, enc: CategoryEncoder, ctx: RowContext, unseen: UnseenCounts): Column[] {
  const n = batch.numRows;
  const code = new Map<string, number>(enc.values.map((v, i) => [v, i]));
  const rare = new Set(enc.rare);
  const other = enc.values.length;
  const strings = utf8Strings(batch, input);
  // codes: 0..n-1 dictionary, n = other, -1 = missing
  const codes = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = strings[i]!;
    if (s === null) {
      codes[i] = -1;
      continue;
    }
    const c = code.get(s);
    if (c !== undefined) codes[i] = c;
    else if (rare.has(s)) codes[i] = other;
    else {
      unseen[enc.feature] = (unseen[enc.feature] ?? 0) + 1;
      if (enc.unseen === 'error') {
        throw new KilnError('E_VALIDATION', `category feature ${enc.feature}: column ${enc.column} has value ${JSON.stringify(s)} at ${describeRow(batch, i, ctx)}, never seen in the training split (unseen: error; set unseen: other or missing to accept it)`, {
          feature: enc.feature,
          column: enc.column,
          row: ctx.firstRow + i,
          where: ctx.where,
          value: s,
        });
      }
      codes[i] = enc.unseen === 'other' ? other : -1;
    }
  }
  if (enc.encoding === 'ordinal') {
    const validity = new Uint8Array((n + 7) >> 3);
    let nulls = 0;
    for (let i = 0; i < n; i++) {
      if (codes[i]! >= 0) validity[i >> 3]! |= 1 << (i & 7);
      else nulls++;
    }
    return [{ name: enc.outputs[0]!, type: 'int32', values: codes.map((c) => Math.max(c, 0)), validity: nulls ? validity : null, nullCount: nulls }];
  }
  const cols = enc.outputs.map(() => new Float32Array(n));
  for (let i = 0; i < n; i++) if (codes[i]! >= 0) cols[codes[i]!]![i] = 1;
  return enc.outputs.map((name, k) => ({ name, type: 'float32' as const, values: cols[k]!, validity: null, nullCount: 0 }));
}

async function encodeText(batch: ColumnBatch, input: Column, enc: TextHashEncoder): Promise<Column[]> {
  if (input.type !== 'utf8') throw new KilnError('E_VALIDATION', `text_hash feature ${enc.feature}: column ${enc.column} must be text (VARCHAR), got ${input.type}`, { feature: enc.feature, column: enc.column });
  const n = batch.numRows;
  const sparse = await textHash(
    { values: input.values as Uint8Array, offsets: input.offsets!, validity: input.validity, rows: n },
    { bits: enc.bits, seed: enc.seed, bigrams: enc.bigrams, l2: enc.norm === 'l2', idf: enc.idf ? Float64Array.from(enc.idf) : null },
  );
  const cols = enc.outputs.map(() => new Float32Array(n));
  for (let r = 0; r < n; r++) {
    for (let j = sparse.indptr[r]!; j < sparse.indptr[r + 1]!; j++) cols[sparse.indices[j]!]![r] = sparse.values[j]!;
  }
  return enc.outputs.map((name, k) => ({ name, type: 'float32' as const, values: cols[k]!, validity: null, nullCount: 0 }));
}

/**
 * Replaces each hidden encoder-input column of a stage batch with the encoder's outputs (in the
 * same place) and drops `drop` columns. Unseen categories follow each encoder's policy and are
 * counted in `unseen`.
 */
export async function encodeBatch(batch: ColumnBatch, encoders: Record<string, FittedEncoder>, inputs: Record<string, string>, ctx: RowContext, unseen: UnseenCounts, drop: string[] = []): Promise<ColumnBatch> {
  const byInput = new Map(Object.entries(inputs).map(([feature, hidden]) => [hidden, encoders[feature]!]));
  const out: Column[] = [];
  for (const c of batch.columns) {
    if (drop.includes(c.name)) continue;
    const enc = byInput.get(c.name);
    if (!enc) {
      out.push(c);
      continue;
    }
    out.push(...(enc.kind === 'category' ? encodeCategory(batch, c, enc, ctx, unseen) : await encodeText(batch, c, enc)));
  }
  return new ColumnBatch(out, batch.numRows);
}
