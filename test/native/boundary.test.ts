// Bad input across the native boundary: the raw addon (no TS validation) and the TS wrappers must
// answer with a KilnError carrying a stable code, never crash or read out of bounds.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { KilnError, isKilnError } from '../../bindings/errors.js';
import { applyBins, fitBins, rawAddon, type BinMapper } from '../../bindings/index.js';
import type { RawApplyBinsOptions, RawFitBinsOptions } from '../../bindings/native.js';
import { ROOT } from '../helpers/paths.js';

const rows = 6;
const cols = 2;
const good = Float64Array.from([1, 2, 3, NaN, 5, 6, 10, 20, 30, 40, 50, 60]);
const fitOpts: RawFitBinsOptions = { rows, cols, layout: 'column', maxBin: 4, sampleSize: 1000, seed: 0, numThreads: 1 };
const applyOpts: RawApplyBinsOptions = { rows, cols, layout: 'column', numThreads: 1, simd: 'auto' };

/** A valid mapper for `good` (fitted once through the raw addon). */
async function goodMapper(): Promise<BinMapper> {
  return rawAddon().fitBins(good, fitOpts);
}

/** Calls fn (sync throw or rejected promise both count) and returns the KilnError it raised. */
async function kilnErrorOf(fn: () => unknown): Promise<KilnError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an error').toBeDefined();
  expect(caught).toBeInstanceOf(KilnError);
  return caught as KilnError;
}

async function expectInputError(fn: () => unknown, message?: RegExp): Promise<void> {
  const err = await kilnErrorOf(fn);
  expect(err.code).toBe('E_NATIVE_INPUT');
  if (message) expect(err.message).toMatch(message);
}

describe('raw addon: fitBins rejects bad input with KilnError(E_NATIVE_INPUT)', () => {
  const raw = () => rawAddon() as unknown as Record<string, (...args: unknown[]) => unknown>;

  it.each([
    ['Int32Array', new Int32Array(12)],
    ['Uint8Array', new Uint8Array(12)],
    ['BigInt64Array', new BigInt64Array(12)],
    ['Array', Array.from(good)],
    ['ArrayBuffer', new ArrayBuffer(96)],
    ['DataView', new DataView(new ArrayBuffer(96))],
    ['null', null],
    ['undefined', undefined],
    ['string', 'values'],
    ['number', 12],
  ])('values = %s', async (name, values) => {
    await expectInputError(() => raw().fitBins!(values, fitOpts), new RegExp(`Float32Array or Float64Array \\(got ${name}`));
  });

  it.each<[string, unknown]>([
    ['missing options', undefined],
    ['null options', null],
    ['array options', [rows, cols]],
    ['rows = 0', { ...fitOpts, rows: 0 }],
    ['cols = 0', { ...fitOpts, cols: 0 }],
    ['rows = -6', { ...fitOpts, rows: -6 }],
    ['rows = 1.5', { ...fitOpts, rows: 1.5 }],
    ['rows = NaN', { ...fitOpts, rows: NaN }],
    ['rows = Infinity', { ...fitOpts, rows: Infinity }],
    ['rows = "6"', { ...fitOpts, rows: '6' }],
    ['rows = 2^60', { ...fitOpts, rows: 2 ** 60 }],
    ['rows missing', { ...fitOpts, rows: undefined }],
    ['length mismatch (rows*cols > length)', { ...fitOpts, rows: 7 }],
    ['length mismatch (rows*cols < length)', { ...fitOpts, rows: 5 }],
    ['rows*cols overflow', { ...fitOpts, rows: 2 ** 52, cols: 2 ** 12 }],
    ['layout = "diag"', { ...fitOpts, layout: 'diag' }],
    ['layout = 1', { ...fitOpts, layout: 1 }],
    ['maxBin = 1', { ...fitOpts, maxBin: 1 }],
    ['maxBin = 256', { ...fitOpts, maxBin: 256 }],
    ['maxBin = 2.5', { ...fitOpts, maxBin: 2.5 }],
    ['sampleSize = 0', { ...fitOpts, sampleSize: 0 }],
    ['seed = -1', { ...fitOpts, seed: -1 }],
    ['seed = 2^60', { ...fitOpts, seed: 2 ** 60 }],
    ['numThreads = -1', { ...fitOpts, numThreads: -1 }],
    ['numThreads = 10000', { ...fitOpts, numThreads: 10000 }],
  ])('%s', async (_name, options) => {
    await expectInputError(() => raw().fitBins!(good, options));
  });

  it('names the offending option', async () => {
    await expectInputError(() => raw().fitBins!(good, { ...fitOpts, maxBin: 300 }), /options\.maxBin must be an integer in \[2, 255\] \(got 300\)/);
    await expectInputError(() => raw().fitBins!(good, { ...fitOpts, rows: 7 }), /values\.length is 12 but rows \* cols = 7 \* 2 = 14/);
  });

  it('typed arrays over a resizable or detached buffer are refused', async () => {
    // ES2024 resizable ArrayBuffer (shipped in Node 20; not in the ES2023 lib typings)
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
    const resizable = new Resizable(96, { maxByteLength: 192 });
    await expectInputError(() => raw().fitBins!(new Float64Array(resizable, 0, 12), fitOpts), /resizable/);
    const buf = new ArrayBuffer(96);
    const view = new Float64Array(buf);
    structuredClone(buf, { transfer: [buf] }); // detaches buf: view.length becomes 0
    await expectInputError(() => raw().fitBins!(view, fitOpts), /values\.length is 0/);
  });

  it('an options getter that detaches values is caught (no use-after-free)', async () => {
    const buf = new ArrayBuffer(96);
    const view = new Float64Array(buf).fill(1);
    const opts = { ...fitOpts, get seed(): number { structuredClone(buf, { transfer: [buf] }); return 0; } };
    await expectInputError(() => raw().fitBins!(view, opts), /values\.length is 0/);
    const buf2 = new ArrayBuffer(96);
    const view2 = new Float64Array(buf2).fill(1);
    const m = await goodMapper();
    const mapper = { ...m, get offsets(): Int32Array { structuredClone(buf2, { transfer: [buf2] }); return m.offsets; } };
    await expectInputError(() => raw().applyBins!(view2, applyOpts, mapper), /values\.length is 0/);
  });

  it('a throwing options getter surfaces as that error, process survives', async () => {
    const opts = { ...fitOpts, get maxBin(): number { throw new RangeError('boom from getter'); } };
    await expect(async () => raw().fitBins!(good, opts)).rejects.toThrow('boom from getter');
  });
});

describe('raw addon: applyBins rejects bad mappers and options', () => {
  const raw = () => rawAddon() as unknown as Record<string, (...args: unknown[]) => unknown>;

  it('accepts the fitted mapper (control)', async () => {
    const m = await goodMapper();
    const out = await rawAddon().applyBins(good, applyOpts, m);
    expect(out.length).toBe(rows * cols);
    expect(out[3]).toBe(255);
  });

  const variants: Array<[string, (m: BinMapper) => unknown]> = [
    ['mapper missing', () => undefined],
    ['mapper is an array', (m) => [m.numBins, m.thresholds, m.offsets]],
    ['numBins is a Float64Array', (m) => ({ ...m, numBins: Float64Array.from(m.numBins) })],
    ['thresholds is a Float32Array', (m) => ({ ...m, thresholds: Float32Array.from(m.thresholds) })],
    ['offsets is a plain Array', (m) => ({ ...m, offsets: Array.from(m.offsets) })],
    ['numBins too short', (m) => ({ ...m, numBins: m.numBins.subarray(0, 1) })],
    ['offsets too short', (m) => ({ ...m, offsets: m.offsets.subarray(0, 2) })],
    ['offsets[0] != 0', (m) => ({ ...m, offsets: Int32Array.from([1, m.offsets[1]!, m.offsets[2]!]) })],
    ['offsets not monotone', (m) => ({ ...m, offsets: Int32Array.from([0, m.offsets[2]! + 1, m.offsets[2]!]) })],
    ['offsets past thresholds end', (m) => ({ ...m, offsets: Int32Array.from([0, 1_000_000, 1_000_000]), numBins: Int32Array.from([1_000_001, 1]) })],
    ['offsets[cols] != thresholds.length', (m) => ({ ...m, thresholds: Float64Array.from([...m.thresholds, 99]) })],
    ['numBins mismatch', (m) => ({ ...m, numBins: Int32Array.from([m.numBins[0]! + 1, m.numBins[1]!]) })],
    ['thresholds not increasing', (m) => ({ ...m, thresholds: Float64Array.from(m.thresholds).reverse() })],
    ['NaN threshold', (m) => ({ ...m, thresholds: Float64Array.from(m.thresholds, (t, i) => (i === 1 ? NaN : t)) })],
    ['more than 254 thresholds', () => ({
      numBins: Int32Array.from([256, 1]),
      thresholds: Float64Array.from({ length: 255 }, (_, i) => i),
      offsets: Int32Array.from([0, 255, 255]),
    })],
    ['negative offsets', () => ({ numBins: Int32Array.from([1, 1]), thresholds: new Float64Array(0), offsets: Int32Array.from([0, -5, 0]) })],
  ];
  it.each(variants)('%s', async (_name, make) => {
    const m = await goodMapper();
    await expectInputError(() => raw().applyBins!(good, applyOpts, make(m)));
  });

  it.each<[string, unknown]>([
    ['simd = "avx512"', { ...applyOpts, simd: 'avx512' }],
    ['simd missing', { ...applyOpts, simd: undefined }],
    ['numThreads = 0.5', { ...applyOpts, numThreads: 0.5 }],
    ['cols mismatch with mapper', { ...applyOpts, rows: 4, cols: 3 }],
  ])('options: %s', async (_name, options) => {
    const m = await goodMapper();
    await expectInputError(() => raw().applyBins!(good, options, m));
  });

  it('reads subarray views at their byteOffset only', async () => {
    const big = new Float64Array(100).fill(1e9);
    big.set(good, 40);
    const view = big.subarray(40, 40 + good.length);
    const m = await goodMapper();
    const a = await rawAddon().applyBins(view, applyOpts, m);
    const b = await rawAddon().applyBins(good, applyOpts, m);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('setErrorClass refuses a non-constructor', async () => {
    await expectInputError(() => raw().setErrorClass!(42), /constructor/);
  });

  it('the process is still healthy after all of the above', async () => {
    const m = await goodMapper();
    expect(m.numBins.length).toBe(cols);
  });
});

describe('TS wrappers validate before crossing', () => {
  const m = { numBins: new Int32Array([1, 1]), thresholds: new Float64Array(0), offsets: new Int32Array(3) };

  it.each<[string, () => Promise<unknown>, RegExp]>([
    ['values type', () => fitBins(new Int32Array(12) as unknown as Float64Array, { rows, cols }), /fitBins: values must be a Float32Array or Float64Array \(got Int32Array\)/],
    ['maxBin range', () => fitBins(good, { rows, cols, maxBin: 300 }), /fitBins: options\.maxBin must be an integer in \[2, 255\] \(got 300\)/],
    ['rows integer', () => fitBins(good, { rows: 5.5, cols }), /options\.rows must be an integer/],
    ['length', () => fitBins(good, { rows: 7, cols }), /values\.length is 12 but options\.rows \* options\.cols = 7 \* 2 = 14/],
    ['layout', () => fitBins(good, { rows, cols, layout: 'diag' as 'row' }), /options\.layout must be one of 'column', 'row' \(got 'diag'\)/],
    ['seed', () => fitBins(good, { rows, cols, seed: -1 }), /options\.seed/],
    ['sampleSize', () => fitBins(good, { rows, cols, sampleSize: 0 }), /options\.sampleSize/],
    ['numThreads', () => fitBins(good, { rows, cols, numThreads: 1000 }), /options\.numThreads/],
    ['unknown option (typo)', () => fitBins(good, { rows, cols, maxBins: 10 } as never), /unknown option 'maxBins'/],
    ['simd', () => applyBins(good, { rows, cols, simd: 'sse' as 'auto' }, m), /applyBins: options\.simd must be one of 'auto', 'scalar'/],
    ['mapper type', () => applyBins(good, { rows, cols }, null as never), /applyBins: mapper must be an object/],
    ['mapper offsets', () => applyBins(good, { rows, cols }, { numBins: Int32Array.from([3, 1]), thresholds: Float64Array.from([1, 2]), offsets: Int32Array.from([0, 2, 1]) }), /mapper\.offsets must be non-decreasing/],
    ['mapper numBins', () => applyBins(good, { rows, cols }, { ...m, numBins: new Int32Array([2, 1]) }), /mapper\.numBins\[0\] = 2/],
  ])('%s', async (_name, call, message) => {
    const spy = vi.spyOn(rawAddon(), 'fitBins');
    const spyApply = vi.spyOn(rawAddon(), 'applyBins');
    await expectInputError(call, message);
    expect(spy).not.toHaveBeenCalled();
    expect(spyApply).not.toHaveBeenCalled();
    spy.mockRestore();
    spyApply.mockRestore();
  });

  it('wrappers return promises that reject (never throw synchronously)', () => {
    const p = fitBins(good, { rows: 0, cols });
    expect(p).toBeInstanceOf(Promise);
    return expect(p).rejects.toMatchObject({ name: 'KilnError', code: 'E_NATIVE_INPUT' });
  });
});

describe('loader', () => {
  afterEach(() => {
    delete process.env.KILN_ADDON_PATH;
    vi.resetModules();
  });

  it('KILN_ADDON_PATH pointing nowhere gives E_NATIVE_MISSING with the build command', async () => {
    process.env.KILN_ADDON_PATH = path.join(ROOT, 'build/nowhere/kiln.node');
    vi.resetModules();
    const fresh = await import('../../bindings/index.js');
    expect(fresh.nativeAvailable()).toBe(false);
    let err: unknown;
    try {
      fresh.nativeInfo();
    } catch (e) {
      err = e;
    }
    expect(isKilnError(err)).toBe(true);
    expect((err as KilnError).code).toBe('E_NATIVE_MISSING');
    expect((err as KilnError).message).toContain('npm run build:native');
    await expect(fresh.fitBins(good, { rows, cols })).rejects.toMatchObject({ code: 'E_NATIVE_MISSING' });
  });

  it('KILN_ADDON_PATH can point at the real build', async () => {
    process.env.KILN_ADDON_PATH = path.join(ROOT, 'build/Release/kiln.node');
    vi.resetModules();
    const fresh = await import('../../bindings/index.js');
    expect(fresh.nativeInfo().version).toBe('0.1.0');
  });

  it('a file that is not an addon gives E_NATIVE_MISSING, not a crash', async () => {
    process.env.KILN_ADDON_PATH = path.join(ROOT, 'package.json');
    vi.resetModules();
    const fresh = await import('../../bindings/index.js');
    expect(() => fresh.nativeInfo()).toThrow(/could not be loaded/);
  });

  it('errors raised before setErrorClass still carry name and code', () => {
    const script = `
      const a = require(${JSON.stringify(path.join(ROOT, 'build/Release/kiln.node'))});
      try { a.fitBins(new Int32Array(2), {}); } catch (e) { process.stdout.write(JSON.stringify({ name: e.name, code: e.code })); }`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ name: 'KilnError', code: 'E_NATIVE_INPUT' });
  });
});
