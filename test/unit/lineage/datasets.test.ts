import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DatasetVersions, defaultDatasetStore } from '../../../src/lineage/datasets.js';
import { sha256File } from '../../../src/lineage/hash.js';
import { DATASETS, makeTemp, rmTemp } from '../../helpers/paths.js';

let tmp: string;
let store: DatasetVersions;
let src: string;

beforeAll(() => {
  tmp = makeTemp('kiln-datasets-');
  src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  store = new DatasetVersions(path.join(tmp, 'store'));
});
afterAll(() => rmTemp(tmp));

const write = (name: string, text: string): string => {
  const f = path.join(src, name);
  fs.writeFileSync(f, text);
  return f;
};

describe('DatasetVersions', () => {
  it('stores a read-only content-addressed copy with its shape and meta', async () => {
    const file = write('train.csv', 'a,b\n1,x\n2,y\n');
    const sha = await sha256File(file);
    const info = await store.createVersion(file, { split: 'train', source: 'unit' });
    expect(info.id).toBe(`ds_${sha.slice(0, 16)}`);
    expect(info).toMatchObject({ sha256: sha, size: 12, sourcePath: file, fileName: 'train.csv', format: 'csv', rows: 2, meta: { source: 'unit', split: 'train' } });
    expect(info.columns?.map((c) => c.name)).toEqual(['a', 'b']);
    expect(info.existing).toBeUndefined();
    const stored = await store.loadVersion(info.id);
    expect(stored).toBe(path.join(store.storeDir, info.id, 'data.csv'));
    expect(fs.readFileSync(stored, 'utf8')).toBe('a,b\n1,x\n2,y\n');
    expect(fs.statSync(stored).mode & 0o777).toBe(0o444);
    expect(await store.getVersionInfo(info.id)).toEqual(info);
  });

  it('gives the same content the same id and keeps the first info', async () => {
    const a = await store.createVersion(write('same1.csv', 'k\n42\n'), { who: 'first' });
    const b = await store.createVersion(write('same2.csv', 'k\n42\n'), { who: 'second' });
    expect(b.id).toBe(a.id);
    expect(b.existing).toBe(true);
    expect(b.meta).toEqual({ who: 'first' });
    expect(b.sourcePath).toBe(a.sourcePath);
  });

  it('gives different content a different id', async () => {
    const a = await store.createVersion(write('d1.csv', 'k\n1\n'));
    const b = await store.createVersion(write('d2.csv', 'k\n2\n'));
    expect(b.id).not.toBe(a.id);
  });

  it('keeps compound extensions of compressed files', async () => {
    const digits = path.join(DATASETS, 'sklearn_small/digits.csv.gz');
    const info = await store.createVersion(digits);
    expect(info.dataFile).toBe('data.csv.gz');
    expect(info.sha256).toBe('46abec6b12486ad9e51943373abcf22bbea1b5a51a1619b361570d8893f1464a');
    expect(info.rows).toBe(1797);
  });

  it('detects a tampered stored copy', async () => {
    const info = await store.createVersion(write('tamper.csv', 'v\n100\n'));
    const stored = await store.loadVersion(info.id);
    fs.chmodSync(stored, 0o644);
    const buf = fs.readFileSync(stored);
    buf[2] = buf[2]! ^ 0x01;
    fs.writeFileSync(stored, buf);
    await expect(store.loadVersion(info.id)).rejects.toMatchObject({ code: 'E_DATASET', message: expect.stringMatching(new RegExp(`${info.id}.*tampered`)) });
    fs.rmSync(stored, { force: true });
    await expect(store.loadVersion(info.id)).rejects.toMatchObject({ code: 'E_DATASET', message: expect.stringContaining('missing') });
  });

  it('names an unknown or malformed id', async () => {
    await expect(store.getVersionInfo('ds_0000000000000000')).rejects.toMatchObject({ code: 'E_DATASET', message: expect.stringContaining('ds_0000000000000000') });
    await expect(store.loadVersion('ds_0000000000000000')).rejects.toMatchObject({ code: 'E_DATASET' });
    await expect(store.getVersionInfo('../../etc')).rejects.toMatchObject({ code: 'E_DATASET', message: expect.stringContaining('../../etc') });
  });

  it('refuses a missing source file with E_IO naming it', async () => {
    const missing = path.join(src, 'missing.csv');
    await expect(store.createVersion(missing)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringContaining(missing) });
  });

  it('lists versions oldest first', async () => {
    const list = await store.listVersions();
    expect(list.length).toBeGreaterThanOrEqual(5);
    const times = list.map((v) => v.createdAt);
    expect([...times].sort()).toEqual(times);
    expect(await new DatasetVersions(path.join(tmp, 'empty-store')).listVersions()).toEqual([]);
  });
});

describe('default store', () => {
  const saved = process.env.KILN_HOME;
  afterEach(() => {
    if (saved === undefined) delete process.env.KILN_HOME;
    else process.env.KILN_HOME = saved;
  });

  it('lives under $KILN_HOME/datasets, else ./.kiln/datasets', () => {
    process.env.KILN_HOME = '/srv/kiln-home';
    expect(new DatasetVersions().storeDir).toBe(path.join('/srv/kiln-home', 'datasets'));
    delete process.env.KILN_HOME;
    expect(defaultDatasetStore()).toBe(path.resolve('.kiln/datasets'));
  });
});
