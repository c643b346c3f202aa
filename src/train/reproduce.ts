/**
 * `kiln reproduce`: re-runs a recorded training run from its recorded inputs, config, flags and
 * seed. The inputs' content hashes are checked first (E_DATA_CHANGED when any differs), then the new
 * model's sha256 is compared with the recorded one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { KilnError } from '../../bindings/errors.js';
import { sha256File } from '../lineage/hash.js';

import type { TrainConfigFile, TrainFlags } from './config.js';
import { trainRun } from './run.js';
import { defaultRunStore, getRun } from './store.js';

/** The outcome of a reproduction. */
export interface ReproduceResult {
  runId: string;
  dir: string;
  expectedModelSha256: string;
  actualModelSha256: string;
  match: boolean;
  inputs: Array<{ role: string; path: string; sha256: string }>;
}

interface RecordedSource {
  role: string;
  path: string;
  sha256: string;
}

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new KilnError('E_IO', `cannot read ${what} ${file}: ${(err as Error).message}`, { file });
  }
}

/** The experiment folder of a run: the folder itself, or the run store's record of a run id (prefix). */
export async function locateRun(runOrDir: string, store = defaultRunStore()): Promise<string> {
  if (fs.existsSync(path.join(runOrDir, 'metadata.json'))) return path.resolve(runOrDir);
  const run = await getRun(store, runOrDir);
  if (!fs.existsSync(path.join(run.dir, 'metadata.json'))) throw new KilnError('E_IO', `run ${run.runId} was recorded in ${run.dir}, which is gone`, { dir: run.dir });
  return run.dir;
}

/** Re-runs a recorded run in a scratch folder and compares model hashes; throws E_DATA_CHANGED when an input changed. */
export async function reproduceRun(runOrDir: string, opts: { store?: string; log?: (line: string) => void; signal?: AbortSignal } = {}): Promise<ReproduceResult> {
  const dir = await locateRun(runOrDir, opts.store);
  const meta = readJson<{ runId: string; modelSha256: string }>(path.join(dir, 'metadata.json'), 'run metadata');
  const data = readJson<{ sources: RecordedSource[] }>(path.join(dir, 'artifacts', 'data.json'), 'data reference');
  const config = readJson<{ config: TrainConfigFile; flags: TrainFlags }>(path.join(dir, 'artifacts', 'config.json'), 'run config');
  for (const src of data.sources) {
    if (!fs.existsSync(src.path)) throw new KilnError('E_DATA_CHANGED', `input ${src.path} (${src.role}) of run ${meta.runId} is gone`, { file: src.path });
    const now = await sha256File(src.path);
    if (now !== src.sha256) {
      throw new KilnError('E_DATA_CHANGED', `input ${src.path} (${src.role}) changed since run ${meta.runId}: sha256 ${now.slice(0, 12)}…, recorded ${src.sha256.slice(0, 12)}…`, { file: src.path, recorded: src.sha256, now });
    }
  }
  const at = (role: string): string | undefined => data.sources.find((s) => s.role === role)?.path;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-reproduce-'));
  try {
    const rerun = await trainRun({
      data: at('train')!,
      validData: at('valid'),
      testData: at('test'),
      config: config.config,
      flags: config.flags,
      outDir: scratch,
      store: null,
      signal: opts.signal,
      log: opts.log,
    });
    return {
      runId: meta.runId,
      dir,
      expectedModelSha256: meta.modelSha256,
      actualModelSha256: rerun.modelSha256,
      match: rerun.modelSha256 === meta.modelSha256,
      inputs: data.sources.map((s) => ({ role: s.role, path: s.path, sha256: s.sha256 })),
    };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
