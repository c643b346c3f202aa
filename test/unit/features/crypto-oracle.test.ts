// The crypto example's window and cross features against a pandas reference
// (test/oracle/features/crypto_windows.json, made by benchmarks/oracles/make_feature_fixtures.py).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFeatures, type BuildFeaturesResult } from '../../../src/features/index.js';
import { closeTo, readParquetRows } from '../../helpers/features.js';
import { ROOT, makeTemp, rmTemp } from '../../helpers/paths.js';

interface Fixture {
  columns: string[];
  rows: Array<Array<string | number | null>>;
}

const fixture = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/oracle/features/crypto_windows.json'), 'utf8')) as Fixture;
const FEATURES = fixture.columns.slice(2);
let dir: string;
let result: BuildFeaturesResult;
let got: Map<string, Record<string, unknown>>;

beforeAll(async () => {
  dir = makeTemp('kiln-features-oracle-');
  result = await buildFeatures(path.join(ROOT, 'examples/crypto/features.yaml'), { outDir: path.join(dir, 'out'), threads: 2 });
  const rows = await readParquetRows(Object.values(result.files));
  got = new Map(rows.map((r) => [`${r.symbol}|${r.ts}`, r]));
});
afterAll(() => rmTemp(dir));

describe('crypto example vs pandas', () => {
  it('has the same rows (dedupe on symbol, ts) and a temporal split 70/15/15', () => {
    expect(result.counts.duplicatesDropped).toBe(2);
    expect(got.size).toBe(fixture.rows.length);
    for (const r of fixture.rows) expect(got.has(`${r[0]}|${r[1]}`), `${r[0]} ${r[1]}`).toBe(true);
    const total = result.counts.rows;
    expect(Math.abs(result.rows.train! / total - 0.7)).toBeLessThan(0.01);
    expect(Math.abs(result.rows.valid! / total - 0.15)).toBeLessThan(0.01);
  });

  for (const [k, name] of FEATURES.entries()) {
    it(`${name} equals pandas within 1e-9 (relative to max(1, |value|))`, () => {
      let compared = 0;
      let nonNull = 0;
      const bad: string[] = [];
      for (const r of fixture.rows) {
        const want = r[k + 2] as number | null;
        const have = got.get(`${r[0]}|${r[1]}`)![name];
        compared++;
        if (want !== null) nonNull++;
        if (!closeTo(have, want, 1e-9)) bad.push(`${r[0]} ${r[1]}: kiln ${String(have)} pandas ${String(want)}`);
      }
      expect(bad.slice(0, 5)).toEqual([]);
      expect(compared).toBe(fixture.rows.length);
      expect(nonNull).toBeGreaterThan(fixture.rows.length * 0.9);
    });
  }

  it('temporal split: every train row is before every valid row, valid before test', () => {
    const max = async (f: string): Promise<[string, string]> => {
      const rows = await readParquetRows(f, 'ts');
      return [rows[0]!.ts as string, rows.at(-1)!.ts as string];
    };
    return Promise.all([max(result.files.train!), max(result.files.valid!), max(result.files.test!)]).then(([tr, va, te]) => {
      expect(tr[1] <= va[0]).toBe(true);
      expect(va[1] <= te[0]).toBe(true);
    });
  });
});
