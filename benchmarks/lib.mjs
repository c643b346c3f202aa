// Shared helpers of kiln's benchmark scripts: child-process trials, medians, machine description.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** benchmarks/ folder. */
export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
/** Generated benchmark inputs (git-ignored). */
export const DATA_DIR = path.join(BENCH_DIR, '.data');

/** Runs `node script args…` in a fresh process and parses the last stdout line as JSON. */
export function trial(script, args, env = {}) {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`trial ${path.basename(script)} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** Median of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Peak resident set size of this process in MB. */
export function peakRssMB() {
  return process.resourceUsage().maxRSS / 1024;
}

/** Describes the machine a figure was measured on. */
export function machine() {
  return { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version };
}

/** Creates the data folder. */
export function ensureDataDir() {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  return DATA_DIR;
}

/** Reads `--name value` from the command line, or the default. */
export function flag(name, dflt) {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
}
