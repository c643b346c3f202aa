/**
 * The model registry: named models with numbered, immutable versions under
 * `$KILN_HOME/registry` (else `./.kiln/registry`):
 *   <name>/index.json             versions in order: { version, modelSha256, runId, createdAt, source, metrics }
 *   <name>/v<N>/model.json        a read-only copy of the registered model file
 * `registry:<name>` (latest) and `registry:<name>@<N>` resolve to a version's model file.
 */
import fs from 'node:fs';
import path from 'node:path';

import { KilnError } from '../../bindings/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { sha256File } from '../lineage/hash.js';
import { readModelFile } from '../models/format.js';

/** One registered version. */
export interface RegistryVersion {
  version: number;
  modelSha256: string;
  runId: string | null;
  createdAt: string;
  /** Absolute path the model was registered from. */
  source: string;
  metrics: Record<string, number>;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The default registry folder: $KILN_HOME/registry, else ./.kiln/registry. */
export function defaultRegistryDir(): string {
  const home = process.env.KILN_HOME;
  return home ? path.join(home, 'registry') : path.resolve('.kiln/registry');
}

/** Throws E_USAGE unless `name` is a valid registry name. */
export function checkRegistryName(name: string): void {
  if (!NAME_RE.test(name)) throw new KilnError('E_USAGE', `registry name "${name}" must be 1-64 letters, digits, '_', '.', '-' (starting with a letter or digit)`);
}

function readIndex(dir: string, name: string): RegistryVersion[] {
  const file = path.join(dir, name, 'index.json');
  if (!fs.existsSync(file)) return [];
  try {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { versions: RegistryVersion[] };
    if (!Array.isArray(doc.versions)) throw new Error('no versions array');
    return doc.versions;
  } catch (err) {
    throw new KilnError('E_IO', `registry index ${file} is unreadable: ${(err as Error).message}`, { file });
  }
}

/** Registers a model file as the next version of `name` (the file is checked to be a valid kiln model first). */
export async function registerModel(
  name: string,
  modelFile: string,
  meta: { runId?: string | null; metrics?: Record<string, number> } = {},
  dir = defaultRegistryDir(),
): Promise<RegistryVersion & { name: string; path: string }> {
  checkRegistryName(name);
  readModelFile(modelFile);
  const versions = readIndex(dir, name);
  const version = (versions.at(-1)?.version ?? 0) + 1;
  const target = path.join(dir, name, `v${version}`, 'model.json');
  if (fs.existsSync(target)) throw new KilnError('E_IO', `registry version ${name}@${version} already exists at ${target}; the index is out of date`, { file: target });
  fs.mkdirSync(path.dirname(target), { recursive: true });
  await writeFileAtomic(target, fs.readFileSync(modelFile));
  fs.chmodSync(target, 0o444);
  const entry: RegistryVersion = {
    version,
    modelSha256: await sha256File(target),
    runId: meta.runId ?? null,
    createdAt: new Date().toISOString(),
    source: path.resolve(modelFile),
    metrics: meta.metrics ?? {},
  };
  await writeFileAtomic(path.join(dir, name, 'index.json'), JSON.stringify({ name, versions: [...versions, entry] }, null, 2) + '\n');
  return { ...entry, name, path: target };
}

/** Every version of `name`, oldest first. */
export function listVersions(name: string, dir = defaultRegistryDir()): RegistryVersion[] {
  checkRegistryName(name);
  return readIndex(dir, name);
}

/** The model file of `registry:<name>` (latest) or `registry:<name>@<version>`. */
export function resolveRegistryRef(ref: string, dir = defaultRegistryDir()): { name: string; version: RegistryVersion; path: string } {
  const m = /^registry:([^@]+)(?:@(\d+))?$/.exec(ref);
  if (!m) throw new KilnError('E_USAGE', `"${ref}" is not a registry reference (registry:<name> or registry:<name>@<version>)`);
  const name = m[1]!;
  const versions = listVersions(name, dir);
  if (versions.length === 0) throw new KilnError('E_USAGE', `no model "${name}" in the registry ${dir}`, { name });
  const v = m[2] === undefined ? versions.at(-1)! : versions.find((x) => x.version === Number(m[2]));
  if (!v) throw new KilnError('E_USAGE', `model "${name}" has no version ${m[2]} (versions ${versions.map((x) => x.version).join(', ')})`, { name });
  return { name, version: v, path: path.join(dir, name, `v${v.version}`, 'model.json') };
}
