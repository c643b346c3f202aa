// The native text hashing kernel through the bindings: normalisation, tokens and bigrams, seeded
// MurmurHash3 buckets (checked against a JS reference), IDF weights, L2 norm, thread independence.
import { describe, expect, it } from 'vitest';
import { KilnError } from '../../bindings/errors.js';
import { murmurHash3, normalizeText, textHash } from '../../bindings/index.js';

/** Arrow-layout utf8 column of strings (null = null row). */
function column(strings: Array<string | null>): { values: Uint8Array; offsets: Int32Array; validity: Uint8Array | null; rows: number } {
  const enc = new TextEncoder();
  const parts = strings.map((s) => enc.encode(s ?? ''));
  const offsets = new Int32Array(strings.length + 1);
  parts.forEach((p, i) => (offsets[i + 1] = offsets[i]! + p.length));
  const values = new Uint8Array(offsets[strings.length]!);
  parts.forEach((p, i) => values.set(p, offsets[i]!));
  const hasNull = strings.some((s) => s === null);
  const validity = hasNull ? new Uint8Array((strings.length + 7) >> 3) : null;
  if (validity) strings.forEach((s, i) => s !== null && (validity[i >> 3]! |= 1 << (i & 7)));
  return { values, offsets, validity, rows: strings.length };
}

/** Reference MurmurHash3_x86_32 (Austin Appleby's algorithm), unsigned. */
function murmurRef(bytes: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const n = bytes.length;
  const blocks = n >> 2;
  for (let i = 0; i < blocks; i++) {
    let k = bytes[4 * i]! | (bytes[4 * i + 1]! << 8) | (bytes[4 * i + 2]! << 16) | (bytes[4 * i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const t = blocks * 4;
  switch (n & 3) {
    case 3:
      k ^= bytes[t + 2]! << 16;
    // falls through
    case 2:
      k ^= bytes[t + 1]! << 8;
    // falls through
    case 1:
      k ^= bytes[t]!;
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Dense bucket counts of one text, computed in JS from the documented rules. */
function denseRef(text: string, bits: number, seed: number, bigrams: boolean): Float64Array {
  const tokens = normalizeRef(text).split(' ').filter(Boolean);
  const enc = new TextEncoder();
  const out = new Float64Array(2 ** bits);
  const mask = 2 ** bits - 1;
  tokens.forEach((t, i) => {
    out[murmurRef(enc.encode(t), seed) & mask]! += 1;
    if (bigrams && i > 0) out[murmurRef(enc.encode(`${tokens[i - 1]} ${t}`), seed) & mask]! += 1;
  });
  return out;
}

function normalizeRef(text: string): string {
  // ASCII letters lowercased; ASCII non-letters separate tokens; non-ASCII kept.
  return text
    .replace(/[A-Z]/g, (c) => c.toLowerCase())
    .replace(/[\x00-\x60\x7b-\x7f]/g, ' ')
    .replace(/ +/g, ' ')
    .trim();
}

function dense(sparse: { indptr: Int32Array; indices: Int32Array; values: Float64Array }, row: number, width: number): Float64Array {
  const out = new Float64Array(width);
  for (let j = sparse.indptr[row]!; j < sparse.indptr[row + 1]!; j++) out[sparse.indices[j]!] = sparse.values[j]!;
  return out;
}

const TEXTS = [
  'Amazon Prime*2K4 Membership',
  'NETFLIX.COM 866-579-7172 CA',
  'Starbucks #12345 — Café Olé',
  'the  quick, brown fox; the lazy dog!!',
  '',
  '1234 5678',
  'a b a b a b',
];

describe('normalisation', () => {
  it('lowercases, strips digits and punctuation, collapses spaces, keeps UTF-8 letters', () => {
    expect(normalizeText('  Hello,   WORLD!! 42x ')).toBe('hello world x');
    expect(normalizeText('NETFLIX.COM 866-579-7172 CA')).toBe('netflix com ca');
    expect(normalizeText('Café Olé')).toBe('café olé');
    expect(normalizeText('123 --- 456')).toBe('');
    for (const t of TEXTS) expect(normalizeText(t)).toBe(normalizeRef(t));
  });

  it('the SIMD and scalar normalisers give the same buckets on long mixed input', async () => {
    const long = Array.from({ length: 300 }, (_, i) => `Row ${i}: MixedCASE_text/with-PUNCT ${'ÅÄÖ'.repeat(i % 4)} tail${i % 7}`);
    const a = await textHash(column(long), { bits: 10, simd: 'auto' });
    const b = await textHash(column(long), { bits: 10, simd: 'scalar' });
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    expect(Array.from(a.values)).toEqual(Array.from(b.values));
  });
});

describe('MurmurHash3', () => {
  it('matches the published x86_32 vectors and a JS reference', () => {
    expect(murmurHash3('', 0)).toBe(0);
    expect(murmurHash3('', 1)).toBe(0x514e28b7);
    expect(murmurHash3('hello', 0)).toBe(0x248bfa47);
    expect(murmurHash3('The quick brown fox jumps over the lazy dog', 0)).toBe(0x2e4ff723);
    const enc = new TextEncoder();
    for (const s of ['a', 'ab', 'abc', 'abcd', 'abcde', 'café', 'x'.repeat(37)]) {
      for (const seed of [0, 7, 0xffffffff]) expect(murmurHash3(s, seed)).toBe(murmurRef(enc.encode(s), seed));
    }
  });
});

describe('textHash', () => {
  it('counts tokens (and bigrams) in the buckets of the seeded hash', async () => {
    for (const bigrams of [false, true]) {
      for (const seed of [0, 7]) {
        const r = await textHash(column(TEXTS), { bits: 6, seed, bigrams });
        TEXTS.forEach((t, i) => expect(Array.from(dense(r, i, 64)), `${t} seed ${seed} bigrams ${bigrams}`).toEqual(Array.from(denseRef(t, 6, seed, bigrams))));
        // CSR indices ascending and unique per row
        for (let i = 0; i < TEXTS.length; i++) {
          const idx = Array.from(r.indices.subarray(r.indptr[i]!, r.indptr[i + 1]!));
          expect(idx).toEqual([...new Set(idx)].sort((a, b) => a - b));
        }
      }
    }
  });

  it('bigrams add pair counts; the seed changes the buckets deterministically', async () => {
    const one = await textHash(column(['a b a b a b']), { bits: 12 });
    const two = await textHash(column(['a b a b a b']), { bits: 12, bigrams: true });
    expect(one.values.reduce((s, v) => s + v, 0)).toBe(6);
    expect(two.values.reduce((s, v) => s + v, 0)).toBe(11);
    const s1 = await textHash(column(TEXTS), { bits: 12, seed: 1 });
    const s1b = await textHash(column(TEXTS), { bits: 12, seed: 1 });
    const s2 = await textHash(column(TEXTS), { bits: 12, seed: 2 });
    expect(Array.from(s1.indices)).toEqual(Array.from(s1b.indices));
    expect(Array.from(s1.indices)).not.toEqual(Array.from(s2.indices));
  });

  it('null and empty rows are empty rows', async () => {
    const r = await textHash(column(['x', null, '', '...']), { bits: 4 });
    expect(Array.from(r.indptr)).toEqual([0, 1, 1, 1, 1]);
  });

  it('weights counts by IDF and L2-normalises each non-empty row', async () => {
    const bits = 5;
    const idf = Float64Array.from({ length: 32 }, (_, b) => 1 + b / 10);
    const r = await textHash(column(TEXTS), { bits, idf, l2: true, bigrams: true, seed: 3 });
    TEXTS.forEach((t, i) => {
      const want = denseRef(t, bits, 3, true).map((c, b) => c * idf[b]!);
      const norm = Math.hypot(...want);
      const got = dense(r, i, 32);
      if (norm === 0) expect(r.indptr[i + 1]! - r.indptr[i]!).toBe(0);
      else {
        expect(Math.hypot(...got)).toBeCloseTo(1, 12);
        got.forEach((v, b) => expect(v).toBeCloseTo(want[b]! / norm, 12));
      }
    });
  });

  it('gives identical output for any thread count', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => `merchant ${i % 97} order ${String.fromCharCode(97 + (i % 26))}${i % 13} Paid`);
    const ref = await textHash(column(many), { bits: 12, bigrams: true, numThreads: 1, l2: true });
    for (const numThreads of [2, 3, 8]) {
      const r = await textHash(column(many), { bits: 12, bigrams: true, numThreads, l2: true });
      expect(Buffer.from(r.indptr.buffer).equals(Buffer.from(ref.indptr.buffer))).toBe(true);
      expect(Buffer.from(r.indices.buffer).equals(Buffer.from(ref.indices.buffer))).toBe(true);
      expect(Buffer.from(r.values.buffer).equals(Buffer.from(ref.values.buffer))).toBe(true);
    }
  });

  it('rejects bad input with a KilnError, not a crash', async () => {
    await expect(textHash(column(['a']), { bits: 13 })).rejects.toThrow(KilnError);
    await expect(textHash(column(['a']), { bits: 4, idf: new Float64Array(8) })).rejects.toThrow(/idf/);
    await expect(textHash(column(['a']), { bits: 2, idf: Float64Array.from([1, -1, 1, 1]) })).rejects.toThrow(/>= 0/);
    const bad = column(['abc', 'de']);
    bad.offsets[1] = 99;
    await expect(textHash(bad, {})).rejects.toThrow(KilnError);
    await expect(textHash({ ...column(['a']), values: [1, 2] as unknown as Uint8Array })).rejects.toThrow(/Uint8Array/);
  });
});
