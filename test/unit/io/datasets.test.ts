import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectFile } from '../../../src/io/inspect.js';
import { scanFile } from '../../../src/io/scan.js';
import { DATASETS } from '../../helpers/paths.js';
import type { ReadOptions } from '../../../src/io/formats.js';

/** Every shared dataset with the read options it needs and the row count its README states. */
export const DATASET_CASES: Array<{ file: string; opts: ReadOptions; rows: number; cols: number }> = [
  { file: 'adult/adult.data.csv', opts: { nullStrings: ['?'] }, rows: 32_561, cols: 15 },
  { file: 'adult/adult.test.csv', opts: { nullStrings: ['?'] }, rows: 16_281, cols: 15 },
  { file: 'bank_marketing/bank-full.csv', opts: { delimiter: ';' }, rows: 45_211, cols: 17 },
  { file: 'crypto_ohlcv/Binance_BTCUSDT_d.csv', opts: { skip: 1 }, rows: 1_233, cols: 10 },
  { file: 'crypto_ohlcv/Binance_ETHUSDT_d.csv', opts: { skip: 1 }, rows: 1_233, cols: 10 },
  { file: 'transactions/personal_transactions.csv', opts: {}, rows: 808, cols: 6 },
  { file: 'sklearn_small/breast_cancer.csv', opts: { skip: 1, header: false }, rows: 569, cols: 31 },
  { file: 'sklearn_small/iris.csv', opts: { skip: 1, header: false }, rows: 150, cols: 5 },
  { file: 'sklearn_small/wine_data.csv', opts: { skip: 1, header: false }, rows: 178, cols: 14 },
  { file: 'sklearn_small/digits.csv.gz', opts: { header: false }, rows: 1_797, cols: 65 },
  { file: 'sklearn_small/diabetes_data_raw.csv.gz', opts: { header: false, delimiter: ' ' }, rows: 442, cols: 10 },
  { file: 'sklearn_small/diabetes_target.csv.gz', opts: { header: false }, rows: 442, cols: 1 },
];

describe('shared datasets', () => {
  for (const c of DATASET_CASES) {
    it(`inspects ${c.file}: ${c.rows} rows × ${c.cols} columns`, async () => {
      const p = await inspectFile(path.join(DATASETS, c.file), c.opts);
      expect(p.rowCount).toBe(c.rows);
      expect(p.columns).toHaveLength(c.cols);
      expect(p.sample.length).toBeGreaterThan(0);
    });
  }

  it('reads "?" as missing in adult (workclass, occupation, native-country)', async () => {
    const p = await inspectFile(path.join(DATASETS, 'adult/adult.data.csv'), { nullStrings: ['?'] });
    const nulls = Object.fromEntries(p.columns.map((c) => [c.name, c.nullCount]));
    expect(nulls['workclass']).toBeGreaterThan(1000);
    expect(nulls['occupation']).toBeGreaterThan(1000);
    expect(nulls['native-country']).toBeGreaterThan(100);
    expect(nulls['age']).toBe(0);
    expect(p.columns.find((c) => c.name === 'age')!.min).toBe(17);
  });

  it('streams bank_marketing in bounded batches whose row total equals the file', async () => {
    let rows = 0;
    let batches = 0;
    for await (const b of scanFile(path.join(DATASETS, 'bank_marketing/bank-full.csv'), { delimiter: ';', batchSize: 10_000 })) {
      expect(b.numRows).toBeLessThanOrEqual(10_000);
      rows += b.numRows;
      batches++;
      expect(b.names).toContain('y');
    }
    expect(rows).toBe(45_211);
    expect(batches).toBe(5);
  });

  it('stops reading at --limit without scanning everything into memory', async () => {
    let rows = 0;
    for await (const b of scanFile(path.join(DATASETS, 'adult/adult.data.csv'), { nullStrings: ['?'], limit: 1000, batchSize: 300 })) rows += b.numRows;
    expect(rows).toBe(1000);
  });
});
