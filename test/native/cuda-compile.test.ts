// Compile check of the CUDA sources (native/gbdt/*.cu) with the flags binding.gyp uses, and a
// build + link of the GPU benchmark harness (benchmarks/gpu/build.sh). Runs only where nvcc is on
// PATH (CI machines without the CUDA toolkit skip it); nothing is executed on a GPU.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, describe, expect, it } from 'vitest';

import { makeTemp, rmTemp } from '../helpers/paths.js';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

function nvccPath(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const nvcc = nvccPath();
const sources = fs.readdirSync(path.join(root, 'native/gbdt')).filter((f) => f.endsWith('.cu'));

describe.skipIf(nvcc === null)('CUDA sources compile with nvcc', () => {
  const tmp = makeTemp('kiln-nvcc-');
  afterAll(() => rmTemp(tmp));

  it('every native/gbdt/*.cu compiles for sm_90 with PTX', { timeout: 120_000 }, async () => {
    expect(sources.length).toBeGreaterThanOrEqual(2);
    await Promise.all(
      sources.map((f) =>
        run(
          nvcc!,
          [
            '-std=c++17', '-O3', '-fmad=false',
            '-gencode', 'arch=compute_90,code=sm_90', '-gencode', 'arch=compute_90,code=compute_90',
            '-Xcompiler', '-fPIC', '-Inative/include', '-Inative', '-DKILN_WITH_CUDA=1',
            '-c', path.join('native/gbdt', f), '-o', path.join(tmp, `${f}.o`),
          ],
          { cwd: root, maxBuffer: 16 << 20 },
        ),
      ),
    );
    for (const f of sources) expect(fs.statSync(path.join(tmp, `${f}.o`)).size).toBeGreaterThan(1000);
  });

  it('the GPU harness builds, links and runs (reporting that no GPU is visible here)', { timeout: 300_000 }, async () => {
    const out = path.join(tmp, 'harness');
    await run('bash', ['benchmarks/gpu/build.sh'], { cwd: root, env: { ...process.env, OUT: out, JOBS: '2' }, maxBuffer: 16 << 20 });
    const bin = path.join(out, 'kiln-gpu-harness');
    expect(fs.statSync(bin).size).toBeGreaterThan(100_000);
    const res = await run(bin, [], { cwd: root, timeout: 60_000 }).catch((e: { stdout?: string; stderr?: string }) => e);
    expect(`${res.stdout ?? ''}${res.stderr ?? ''}`).toMatch(/kiln GPU harness/);
  });
});
