import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KILN_VERSION, PACKAGE_ROOT } from '../version.js';

/** Packages whose installed versions go into every environment snapshot. */
export const SNAPSHOT_PACKAGES = ['@duckdb/node-api', '@duckdb/node-bindings', 'apache-arrow', 'ajv', 'ajv-formats', 'commander', 'ink', 'yaml'] as const;

const DENIED_NAME_PARTS = ['SECRET', 'TOKEN', 'PASSWORD', 'KEY', 'CREDENTIAL'];

/** The machine, runtime and package versions a run executed with; never secrets. */
export interface EnvironmentSnapshot {
  node: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  simdLevel: 'avx2' | 'scalar' | 'unavailable';
  cudaCompiled: boolean | null;
  /** The first CUDA GPU the addon sees (CUDA builds with a GPU), else null. */
  gpu: { name: string; memoryBytes: number; computeCapability: string } | null;
  packages: Record<string, string | null>;
  env: Record<string, string>;
}

/** The commit, branch (null when detached) and dirty flag of a git work tree. */
export interface GitInfo {
  commit: string;
  branch: string | null;
  dirty: boolean | null;
}

/** True when an environment variable may be recorded: KILN_* and no secret-like word in its name. */
export function isRecordableEnvName(name: string): boolean {
  if (!name.startsWith('KILN_')) return false;
  const upper = name.toUpperCase();
  return !DENIED_NAME_PARTS.some((part) => upper.includes(part));
}

/** The allowlisted subset of `env` (KILN_* without SECRET/TOKEN/PASSWORD/KEY/CREDENTIAL), keys sorted. */
export function allowlistedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (value !== undefined && isRecordableEnvName(name)) out[name] = value;
  }
  return out;
}

/** The installed version of a package, found in node_modules at or above PACKAGE_ROOT; null when absent. */
export function installedVersion(pkg: string, from: string = PACKAGE_ROOT): string | null {
  let dir = from;
  for (;;) {
    const file = path.join(dir, 'node_modules', ...pkg.split('/'), 'package.json');
    try {
      const version = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown }).version;
      return typeof version === 'string' ? version : null;
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) return null;
      dir = parent;
    }
  }
}

/** Snapshot of node, OS, CPU, memory, native SIMD level / CUDA build / GPU, package versions and allowlisted KILN_* variables. */
export async function environmentSnapshot(): Promise<EnvironmentSnapshot> {
  let simdLevel: EnvironmentSnapshot['simdLevel'] = 'unavailable';
  let cudaCompiled: boolean | null = null;
  let gpu: EnvironmentSnapshot['gpu'] = null;
  try {
    const { nativeInfo } = await import('../../bindings/index.js');
    const info = nativeInfo();
    simdLevel = info.simdLevel;
    cudaCompiled = info.cudaCompiled;
    const first = info.gpus[0];
    if (first) gpu = { name: first.name, memoryBytes: first.memoryBytes, computeCapability: first.computeCapability };
  } catch {
    // addon not built or not loadable: recorded as 'unavailable'
  }
  const packages: Record<string, string | null> = { kiln: KILN_VERSION };
  for (const pkg of SNAPSHOT_PACKAGES) packages[pkg] = installedVersion(pkg);
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpuModel: os.cpus()[0]?.model?.trim() || 'unknown',
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    simdLevel,
    cudaCompiled,
    gpu,
    packages,
    env: allowlistedEnv(),
  };
}

function git(dir: string, args: string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, ...args], { timeout: timeoutMs, windowsHide: true, maxBuffer: 16 << 20 }, (err, stdout) => {
      resolve(err ? null : String(stdout).trim());
    });
  });
}

/** Commit, branch and dirty flag of the git work tree holding `dir`; null when not a repository, no commit yet, or git is missing. */
export async function gitInfo(dir: string = PACKAGE_ROOT, timeoutMs = 5000): Promise<GitInfo | null> {
  const commit = await git(dir, ['rev-parse', '--verify', 'HEAD'], timeoutMs);
  if (!commit || !/^[0-9a-f]{40,64}$/.test(commit)) return null;
  const [branch, status] = await Promise.all([
    git(dir, ['symbolic-ref', '--quiet', '--short', 'HEAD'], timeoutMs),
    git(dir, ['status', '--porcelain'], timeoutMs),
  ]);
  return { commit, branch: branch || null, dirty: status === null ? null : status.length > 0 };
}
