import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, digestFile, hashJson, sha256File, sha256Text } from '../../../src/lineage/hash.js';
import { DATASETS, makeTemp, rmTemp } from '../../helpers/paths.js';

let dir: string;
beforeAll(() => {
  dir = makeTemp('kiln-hash-');
});
afterAll(() => rmTemp(dir));

describe('sha256', () => {
  it('hashes text like the known vectors', () => {
    expect(sha256Text('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Text('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('matches the sha256 the datasets README publishes', async () => {
    expect(await sha256File(path.join(DATASETS, 'sklearn_small/iris.csv'))).toBe('f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449');
  });

  it('streams a file larger than one read buffer and counts its bytes', async () => {
    const file = path.join(dir, 'big.bin');
    const buf = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 31) & 0xff;
    fs.writeFileSync(file, buf);
    const d = await digestFile(file);
    expect(d.size).toBe(buf.length);
    expect(d.sha256).toBe(createHash('sha256').update(buf).digest('hex'));
  });

  it('names the file when it cannot be read', async () => {
    const missing = path.join(dir, 'nope.csv');
    await expect(sha256File(missing)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringContaining(missing) });
  });
});

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('hashes equal values equally whatever the key order, and different values differently', () => {
    expect(hashJson({ a: 1, b: [1, 2] })).toBe(hashJson({ b: [1, 2], a: 1 }));
    expect(hashJson({ a: 1, b: [1, 2] })).not.toBe(hashJson({ a: 1, b: [2, 1] }));
    expect(hashJson({ a: 1 })).toBe(sha256Text('{"a":1}'));
  });

  it('follows JSON.stringify for undefined, non-finite numbers, dates and bigints', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, NaN], c: new Date(0) })).toBe('{"b":[null,null],"c":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalJson({ n: 5n, big: 2n ** 70n })).toBe('{"big":"1180591620717411303424","n":5}');
  });

  it('refuses circular values', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => canonicalJson(a)).toThrow(/circular/);
  });
});
