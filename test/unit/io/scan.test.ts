import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ColumnBatch, type Column } from '../../../src/batch/column-batch.js';
import { copyQueryToFile, writeBatches } from '../../../src/io/sinks.js';
import { duckdbLibraryPath, scanFile, scanQuery, type ScanOptions } from '../../../src/io/scan.js';
import { rawAddon, scanClose, scanNext, scanOpen } from '../../../bindings/index.js';
import { DATASETS, makeTemp, rmTemp } from '../../helpers/paths.js';

let dir: string;
let typed: string;

/** Every column of every batch, concatenated, as plain comparable data. */
async function collect(source: AsyncIterable<ColumnBatch>): Promise<{ rows: number; batches: number[]; columns: Record<string, unknown[]> }> {
  const columns: Record<string, unknown[]> = {};
  const batches: number[] = [];
  let rows = 0;
  for await (const b of source) {
    batches.push(b.numRows);
    rows += b.numRows;
    for (const c of b.columns) {
      const out = (columns[`${c.name}:${c.type}`] ??= []);
      for (let i = 0; i < b.numRows; i++) {
        const v = b.value(c, i);
        out.push(typeof v === 'number' && Number.isNaN(v) ? 'NaN' : v);
      }
    }
  }
  return { rows, batches, columns };
}

const TYPED_SQL = `SELECT i::BIGINT AS id, (i * 0.5)::DOUBLE AS d, (i / 3)::FLOAT AS f, (i % 7)::INTEGER AS k,
  (i % 5 = 0) AS flag, DATE '2024-01-01' + (i % 400)::INTEGER AS day,
  TIMESTAMP '2024-01-01 00:00:00' + to_microseconds(i * 1234567) AS ts,
  CASE WHEN i % 11 = 0 THEN NULL ELSE 'txt_' || (i % 13)::VARCHAR || repeat('é', i % 17) END AS s,
  CASE WHEN i % 9 = 0 THEN NULL ELSE i::DOUBLE END AS nd, (i % 3)::TINYINT AS tiny,
  (i * 1.25)::DECIMAL(12, 2) AS dec, CASE WHEN i % 4 = 0 THEN 'NaN'::DOUBLE ELSE i END AS nan
  FROM range(10007) t(i)`;

beforeAll(async () => {
  dir = makeTemp();
  typed = path.join(dir, 'typed.parquet');
  await copyQueryToFile(TYPED_SQL, typed);
});
afterAll(() => rmTemp(dir));

describe('DuckDB → ColumnBatch', () => {
  it('finds the libduckdb shipped with @duckdb/node-bindings', () => {
    expect(duckdbLibraryPath()).toMatch(/libduckdb/);
  });

  for (const batchSize of [1000, 4096, 65_536]) {
    it(`native and node-api engines give identical batches (batchSize ${batchSize})`, async () => {
      const a = await collect(scanFile(typed, { engine: 'native', batchSize }));
      const b = await collect(scanFile(typed, { engine: 'js', batchSize }));
      expect(a.rows).toBe(10_007);
      expect(a.batches.every((n) => n <= batchSize)).toBe(true);
      expect(a.batches.slice(0, -1).every((n) => n === batchSize)).toBe(true);
      expect(a).toEqual(b);
    });
  }

  it('reuseBuffers gives the same values to a consumer that drops each batch, and recycles buffers', async () => {
    const plain = await collect(scanFile(typed, { engine: 'js', batchSize: 1000 }));
    const reused = await collect(scanFile(typed, { engine: 'native', batchSize: 1000, reuseBuffers: true }));
    expect(reused).toEqual(plain);
    const seen = new Set<ArrayBufferLike>();
    let batches = 0;
    for await (const b of scanFile(typed, { engine: 'native', batchSize: 1000, reuseBuffers: true, columns: ['d'] })) {
      seen.add(b.column('d').values.buffer);
      batches++;
    }
    expect(batches).toBe(11);
    expect(seen.size).toBeLessThan(batches);
  });

  it('batches kept by the consumer stay intact without reuseBuffers', async () => {
    const kept: ColumnBatch[] = [];
    for await (const b of scanFile(typed, { engine: 'native', batchSize: 1000, columns: ['id', 's'] })) kept.push(b);
    expect(kept).toHaveLength(11);
    expect(new Set(kept.map((b) => b.column('id').values.buffer)).size).toBe(11);
    kept.forEach((b, k) => {
      expect(b.value('id', 0)).toBe(BigInt(k * 1000));
      expect(b.value('id', b.numRows - 1)).toBe(BigInt(k * 1000 + b.numRows - 1));
      const i = k * 1000 + 1;
      expect(b.value('s', 1)).toBe(i % 11 === 0 ? null : `txt_${i % 13}${'é'.repeat(i % 17)}`);
    });
  });

  it('maps DuckDB types to kiln column types with nulls counted', async () => {
    const it = scanFile(typed, { engine: 'native' });
    const first = (await it.next()).value as ColumnBatch;
    await it.return(undefined);
    const types = Object.fromEntries(first.columns.map((c: Column) => [c.name, c.type]));
    expect(types).toEqual({ id: 'int64', d: 'float64', f: 'float32', k: 'int32', flag: 'bool', day: 'date32', ts: 'timestamp_us', s: 'utf8', nd: 'float64', tiny: 'int32', dec: 'float64', nan: 'float64' });
    expect(first.value('s', 1)).toBe('txt_1é');
    expect(first.value('s', 0)).toBeNull();
    expect(first.column('nd').nullCount).toBe(Math.ceil(first.numRows / 9));
    expect(first.value('ts', 1)).toBe(1704067200000000n + 1234567n);
    expect(first.value('day', 1)).toBe(19723 + 1);
    expect(first.value('nan', 4)).toBeNaN();
  });

  it('reads a real CSV identically through both engines', async () => {
    const opts: ScanOptions = { nullStrings: ['?'], batchSize: 5000 };
    const file = path.join(DATASETS, 'adult/adult.test.csv');
    expect(await collect(scanFile(file, { ...opts, engine: 'native' }))).toEqual(await collect(scanFile(file, { ...opts, engine: 'js' })));
  });

  it('stops early when the consumer stops and closes the query', async () => {
    let seen = 0;
    for await (const b of scanQuery('SELECT * FROM range(1000000)', { batchSize: 1000, engine: 'native' })) {
      seen += b.numRows;
      if (seen >= 3000) break;
    }
    expect(seen).toBe(3000);
  });

  it('fails the native stream with E_IO when DuckDB errors midway, never a silent short read', async () => {
    const bad = path.join(dir, 'bad-tail.csv');
    fs.writeFileSync(bad, 'a,b\n' + Array.from({ length: 120_000 }, (_, i) => `${i},${i * 2}`).join('\n') + '\noops,1\n');
    let rows = 0;
    await expect(
      (async () => {
        for await (const b of scanFile(bad, { engine: 'native', batchSize: 10_000 })) rows += b.numRows;
      })(),
    ).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/oops/) });
    expect(rows).toBeLessThan(120_000);
  });

  it('keeps empty strings apart from NULL through a CSV round trip', async () => {
    const f = path.join(dir, 'empty-str.csv');
    await writeBatches([new ColumnBatch([{ name: 's', type: 'utf8', values: new Uint8Array([120]), offsets: new Int32Array([0, 0, 1, 1]), validity: new Uint8Array([0b011]), nullCount: 1 }], 3)], f);
    const back = await collect(scanFile(f));
    expect(Object.values(back.columns)[0]).toEqual(['', 'x', null]);
  });

  it('reports SQL errors as KilnError E_IO naming the file', async () => {
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, 'a,b\n1,2\n');
    await expect(collect(scanFile(bad, { columns: ['nope'] }))).rejects.toMatchObject({ code: 'E_IO' });
    await expect(collect(scanFile(path.join(dir, 'missing.parquet')))).rejects.toMatchObject({ code: 'E_IO' });
  });
});

describe('native scan boundary', () => {
  it('refuses bad arguments with E_NATIVE_INPUT and survives', async () => {
    const raw = rawAddon() as unknown as Record<string, (...a: unknown[]) => unknown>;
    const lib = duckdbLibraryPath()!;
    expect(() => raw.scanOpen!(lib, 'SELECT 1', [1], 0, 0, false)).toThrow(expect.objectContaining({ code: 'E_NATIVE_INPUT' }));
    expect(() => raw.scanOpen!(lib, 'SELECT 1', new Int32Array([9]), 0, 0, false)).toThrow(expect.objectContaining({ code: 'E_NATIVE_INPUT' }));
    expect(() => raw.scanOpen!(lib, 'SELECT 1', new Int32Array([1]), 1.5, 0, false)).toThrow(expect.objectContaining({ code: 'E_NATIVE_INPUT' }));
    expect(() => raw.scanOpen!(lib, 'SELECT 1', new Int32Array([1]), 0, -1, false)).toThrow(expect.objectContaining({ code: 'E_NATIVE_INPUT' }));
    expect(() => raw.scanOpen!(lib, 'SELECT 1', new Int32Array([1]), 0)).toThrow(expect.objectContaining({ code: 'E_NATIVE_INPUT' }));
    expect(() => raw.scanNext!({}, 10)).toThrow(expect.objectContaining({ code: 'E_NATIVE_INPUT' }));
    expect(() => raw.scanClose!(42)).toThrow(expect.objectContaining({ code: 'E_NATIVE_INPUT' }));
  });

  it('refuses a plan whose kinds do not match the query', async () => {
    await expect(scanOpen(duckdbLibraryPath()!, 'SELECT 1::INTEGER AS a', new Int32Array([4]))).rejects.toMatchObject({ code: 'E_SCHEMA' });
    await expect(scanOpen(duckdbLibraryPath()!, 'SELECT 1::INTEGER AS a', new Int32Array([1, 1]))).rejects.toMatchObject({ code: 'E_SCHEMA' });
    await expect(scanOpen(duckdbLibraryPath()!, 'SELEC nonsense', new Int32Array([1]))).rejects.toMatchObject({ code: 'E_IO' });
  });

  it('allows one scanNext in flight per handle and ends cleanly after scanClose', async () => {
    const h = await scanOpen(duckdbLibraryPath()!, 'SELECT range::BIGINT AS r FROM range(100000)', new Int32Array([2]));
    const p = scanNext(h, 1000);
    expect(() => scanNext(h, 1000)).toThrow(expect.objectContaining({ code: 'E_NATIVE_INPUT' }));
    expect(() => scanClose(h)).toThrow(expect.objectContaining({ code: 'E_NATIVE_INPUT' }));
    const b = await p;
    expect(b!.rows).toBe(1000);
    expect(Array.from(new BigInt64Array(b!.columns[0]!.values).slice(0, 3))).toEqual([0n, 1n, 2n]);
    scanClose(h);
    expect(await scanNext(h, 1000)).toBeNull();
    scanClose(h);
  });
});

describe('sinks round-trip', () => {
  for (const ext of ['parquet', 'ndjson', 'csv', 'arrow']) {
    it(`writes ${ext} atomically and reads back the same values`, async () => {
      const src = await collect(scanFile(typed, { columns: ['id', 'd', 'k', 'flag', 's', 'nd', 'day', 'ts'] }));
      const out = path.join(dir, `round.${ext}`);
      const res = await writeBatches(scanFile(typed, { columns: ['id', 'd', 'k', 'flag', 's', 'nd', 'day', 'ts'], batchSize: 3000 }), out);
      expect(res.rows).toBe(10_007);
      expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
      const back = await collect(scanFile(out));
      expect(back.rows).toBe(10_007);
      const value = (cols: Record<string, unknown[]>, name: string): unknown[] => Object.entries(cols).find(([k]) => k.startsWith(`${name}:`))![1];
      for (const name of ['d', 'k', 's', 'nd']) expect(value(back.columns, name).map((v) => (typeof v === 'bigint' ? Number(v) : v)), name).toEqual(value(src.columns, name).map((v) => (typeof v === 'bigint' ? Number(v) : v)));
    });
  }

  it('leaves the previous file untouched when the stream fails midway', async () => {
    const out = path.join(dir, 'keep.parquet');
    await writeBatches(scanFile(typed, { columns: ['id'] }), out);
    const before = fs.readFileSync(out);
    async function* failing(): AsyncGenerator<ColumnBatch> {
      for await (const b of scanFile(typed, { columns: ['id'], batchSize: 1000 })) {
        yield b;
        throw new Error('upstream broke');
      }
    }
    await expect(writeBatches(failing(), out)).rejects.toThrow('upstream broke');
    expect(fs.readFileSync(out).equals(before)).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
