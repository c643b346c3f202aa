/** Seeded train / valid / test splits over row indices: stratified, random or temporal. */
import { KilnError } from '../../bindings/errors.js';
import { seededRandom } from '../validate/corpus.js';

/** Row indices of each split, ascending. */
export interface SplitIndices {
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
}

function shuffled(rows: number[], rnd: () => number): number[] {
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [rows[i], rows[j]] = [rows[j]!, rows[i]!];
  }
  return rows;
}

function sortedArray(rows: number[]): Int32Array {
  return Int32Array.from(rows).sort();
}

/**
 * Splits rows 0..n-1. Stratified: each class is shuffled (seeded) and cut in the same proportions
 * (rounded to the nearest row), so every split keeps the class balance; random: one shuffle of all
 * rows; temporal: rows ordered by `time` (ties by row), the oldest for train and the newest for test.
 */
export function splitRows(
  n: number,
  fractions: { valid: number; test: number },
  opts: { kind: 'stratified' | 'random' | 'temporal'; seed: number; labels?: Float64Array | null; time?: ArrayLike<number> | null },
): SplitIndices {
  const { valid, test } = fractions;
  if (!(valid >= 0 && test >= 0 && valid + test < 1)) throw new KilnError('E_USAGE', `split fractions must be >= 0 with valid + test < 1 (got ${valid}, ${test})`);
  const cut = (rows: number[]): { train: number[]; valid: number[]; test: number[] } => {
    const nt = Math.round(rows.length * test);
    const nv = Math.round(rows.length * valid);
    return { test: rows.slice(0, nt), valid: rows.slice(nt, nt + nv), train: rows.slice(nt + nv) };
  };
  if (opts.kind === 'temporal') {
    if (!opts.time) throw new KilnError('E_USAGE', 'a temporal split needs the time column');
    const t = opts.time;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => t[a]! - t[b]! || a - b);
    const nt = Math.round(n * test);
    const nv = Math.round(n * valid);
    const nTrain = n - nt - nv;
    return { train: sortedArray(order.slice(0, nTrain)), valid: sortedArray(order.slice(nTrain, nTrain + nv)), test: sortedArray(order.slice(nTrain + nv)) };
  }
  const rnd = seededRandom(opts.seed);
  if (opts.kind === 'random' || !opts.labels) {
    const parts = cut(shuffled(Array.from({ length: n }, (_, i) => i), rnd));
    return { train: sortedArray(parts.train), valid: sortedArray(parts.valid), test: sortedArray(parts.test) };
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const k = opts.labels[i]!;
    let list = byClass.get(k);
    if (!list) byClass.set(k, (list = []));
    list.push(i);
  }
  const out = { train: [] as number[], valid: [] as number[], test: [] as number[] };
  for (const k of [...byClass.keys()].sort((a, b) => a - b)) {
    const parts = cut(shuffled(byClass.get(k)!, rnd));
    out.train.push(...parts.train);
    out.valid.push(...parts.valid);
    out.test.push(...parts.test);
  }
  return { train: sortedArray(out.train), valid: sortedArray(out.valid), test: sortedArray(out.test) };
}
