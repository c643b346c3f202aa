// GBDT option `device`: validation, E_NO_GPU without CUDA/GPU, 'auto' falling back to the CPU
// with the identical model, device never recorded in the model, nativeInfo's GPU list.
import { describe, expect, it } from 'vitest';

import { KilnError } from '../../../bindings/errors.js';
import { rawAddon } from '../../../bindings/index.js';
import { GBDT, nativeInfo, resolveDevice, serializeModel } from '../../../src/index.js';
import { seededRandom } from '../../../src/validate/corpus.js';

function data(rows: number, cols: number, seed: number): { X: { values: Float32Array; rows: number; cols: number }; y: Float64Array } {
  const r = seededRandom(seed);
  const values = new Float32Array(rows * cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    for (let f = 0; f < cols; f++) values[i * cols + f] = r() < 0.02 ? NaN : r() * 2 - 1;
    const a = values[i * cols]!, b = values[i * cols + 1]!;
    y[i] = (Number.isNaN(a) ? 0 : Math.sin(3 * a)) + (Number.isNaN(b) ? 0 : b * b) + 0.3 * (r() - 0.5) > 0.3 ? 1 : 0;
  }
  return { X: { values, rows, cols }, y };
}

const info = nativeInfo();
const gpuUsable = info.cudaCompiled && info.gpus.length > 0;

describe('GBDT device option', () => {
  it('nativeInfo lists GPUs as plain records (empty without CUDA)', () => {
    expect(Array.isArray(info.gpus)).toBe(true);
    if (!info.cudaCompiled) expect(info.gpus).toEqual([]);
    for (const g of info.gpus) {
      expect(typeof g.name).toBe('string');
      expect(g.memoryBytes).toBeGreaterThan(0);
      expect(g.computeCapability).toMatch(/^\d+\.\d+$/);
    }
  });

  it('rejects an unknown device', () => {
    expect(() => new GBDT({ device: 'tpu' as never })).toThrow(/device must be 'cpu', 'cuda' or 'auto'/);
  });

  it.skipIf(gpuUsable)("device 'cuda' without CUDA or a GPU fails with E_NO_GPU", async () => {
    const { X, y } = data(500, 4, 1);
    const err = await new GBDT({ nEstimators: 2, device: 'cuda' }).fit(X, y).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect((err as KilnError).code).toBe('E_NO_GPU');
    expect((err as KilnError).message).toMatch(info.cudaCompiled ? /no usable GPU/ : /KILN_CUDA=1/);
    expect(() => resolveDevice('cuda')).toThrow(KilnError);
  });

  it.skipIf(info.cudaCompiled)('the addon itself refuses device cuda in a build without CUDA (E_NO_GPU)', async () => {
    const { X, y } = data(200, 3, 2);
    const addon = rawAddon();
    const params = {
      objective: 'binary', numClass: 1, huberDelta: 1, nEstimators: 1, learningRate: 0.1, numLeaves: 4, maxDepth: 0,
      minDataInLeaf: 5, minSumHessianInLeaf: 1e-3, lambdaL2: 0, minGainToSplit: 0, featureFraction: 1, baggingFraction: 1,
      baggingFreq: 0, classWeight: new Float64Array(0), scalePosWeight: 1, monotone: new Int8Array(0), numCategories: new Int32Array(0),
      earlyStoppingRounds: 0, metric: 'default', seed: 0, numThreads: 1, maxBin: 255, binSampleSize: 1000, device: 'cuda',
    } as const;
    const err = await addon
      .gbdtTrain(X.values, { rows: X.rows, cols: X.cols, layout: 'row' }, y, null, null, null, params, null, addon.cancelToken())
      .catch((e: unknown) => e);
    expect((err as KilnError).code).toBe('E_NO_GPU');
  });

  it("'auto' trains the same model as 'cpu' and no device is recorded", async () => {
    const { X, y } = data(3000, 6, 3);
    const opts = { nEstimators: 8, numLeaves: 15, seed: 11, baggingFraction: 0.8, baggingFreq: 2 };
    const cpu = await new GBDT({ ...opts, device: 'cpu' }).fit(X, y);
    const auto = await new GBDT({ ...opts, device: 'auto' }).fit(X, y);
    const a = serializeModel(cpu.toJSON());
    expect(serializeModel(auto.toJSON())).toBe(a);
    expect(a).not.toMatch(/"device"/);
    if (!gpuUsable) expect(resolveDevice('auto')).toBe('cpu');
  });
});
