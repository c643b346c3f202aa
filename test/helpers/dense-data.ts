// Small dense datasets for model tests: sklearn's bundled CSVs and seeded synthetic matrices.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import { expect } from 'vitest';

import { KilnError } from '../../bindings/errors.js';
import { seededRandom } from '../../src/validate/corpus.js';
import { DATASETS } from './paths.js';

/** A row-major matrix with targets. */
export interface DenseData {
  values: Float64Array;
  y: Float64Array;
  rows: number;
  cols: number;
}

/**
 * sklearn_small/<file>: comma-separated, target last. The first line is
 * `n_samples,n_features,<class names>` (not a header) unless `noHeader` (digits).
 */
export function loadSklearnCsv(file: string, noHeader = false): DenseData {
  let buf = fs.readFileSync(path.join(DATASETS, 'sklearn_small', file));
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  const lines = buf.toString('utf8').trim().split('\n');
  if (!noHeader) lines.shift();
  const parsed = lines.map((l) => l.split(',').map(Number));
  const cols = parsed[0]!.length - 1;
  return {
    values: Float64Array.from(parsed.flatMap((r) => r.slice(0, cols))),
    y: Float64Array.from(parsed.map((r) => r[cols]!)),
    rows: parsed.length,
    cols,
  };
}

/** Rows of `d` whose index satisfies `keep`, as a new matrix. */
export function selectRows(d: DenseData, keep: (i: number) => boolean): DenseData {
  const idx = [...Array(d.rows).keys()].filter(keep);
  const values = new Float64Array(idx.length * d.cols);
  idx.forEach((r, i) => values.set(d.values.subarray(r * d.cols, (r + 1) * d.cols), i * d.cols));
  return { values, y: Float64Array.from(idx, (r) => d.y[r]!), rows: idx.length, cols: d.cols };
}

/** Standard normal draw from a uniform source (Box-Muller). */
export function gaussian(rnd: () => number): number {
  const u = Math.max(rnd(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

/**
 * Seeded classification data: features ~ N(0, s_f) + offset_f; class = argmax of noisy linear
 * scores (so the problem is learnable but not separable). Row-major Float32Array.
 */
export function syntheticClasses(rows: number, cols: number, numClass: number, seed: number): { values: Float32Array; y: Float64Array; rows: number; cols: number } {
  const rnd = seededRandom(seed);
  const w = Array.from({ length: numClass }, () => Array.from({ length: cols }, () => gaussian(rnd)));
  const values = new Float32Array(rows * cols);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < cols; f++) values[r * cols + f] = gaussian(rnd) * (1 + f) + f * 10;
    let best = 0;
    let bestScore = -Infinity;
    for (let k = 0; k < numClass; k++) {
      let s = 0;
      for (let f = 0; f < cols; f++) s += w[k]![f]! * ((values[r * cols + f]! - f * 10) / (1 + f));
      s += 1.5 * gaussian(rnd);
      if (s > bestScore) {
        bestScore = s;
        best = k;
      }
    }
    y[r] = best;
  }
  return { values, y, rows, cols };
}

/** Awaits fn (sync throw or rejection) and returns the KilnError it raised, asserting its code. */
export async function expectKilnError(fn: () => unknown, code: string, message?: RegExp): Promise<KilnError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a KilnError').toBeInstanceOf(KilnError);
  const err = caught as KilnError;
  expect(err.code, err.message).toBe(code);
  if (message) expect(err.message).toMatch(message);
  return err;
}

/** Index of the largest of k values starting at p[offset]. */
export function argmax(p: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (p[offset + j]! > p[offset + best]!) best = j;
  return best;
}
