import * as arrow from 'apache-arrow';
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { KilnError } from '../../bindings/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { withConnection } from '../io/duckdb.js';
import { detectFormat, sourceSql, sqlString, type DataFormat } from '../io/formats.js';
import { compileSchema, describeAjvError } from '../validate/schema.js';
import { KILN_VERSION, schemaPath } from '../version.js';
import { digestFile } from './hash.js';

/** Largest .json file scanManifests will open to see whether it is a manifest. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

const HASH_CONCURRENCY = 4;

/** A column of a data file as DuckDB (or Arrow) types it. */
export interface ManifestColumn {
  name: string;
  type: string;
}

/** One covered file: path relative to the manifest root (posix), size, sha256; data files add format, rows, columns or readError. */
export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
  format?: DataFormat;
  rows?: number;
  columns?: ManifestColumn[];
  readError?: string;
}

/** A data manifest (schemas/manifest.schema.json). */
export interface Manifest {
  kind: 'kiln.manifest';
  version: 1;
  createdAt: string;
  kilnVersion: string;
  root: string;
  files: ManifestFile[];
}

/** A file whose bytes differ from what the manifest recorded. */
export interface ChangedFile {
  path: string;
  reason: 'size' | 'sha256';
}

/** The outcome of validateManifest; ok when nothing changed, went missing or appeared. */
export interface ManifestValidation {
  ok: boolean;
  manifest: string;
  root: string;
  strict: boolean;
  checked: number;
  changed: ChangedFile[];
  missing: string[];
  extra: string[];
}

/** A manifest found by scanManifests (absolute paths); `error` instead of counts when it claims to be a manifest but is unreadable. */
export interface ManifestEntry {
  file: string;
  root: string;
  files: number;
  createdAt: string;
  error?: string;
}

/** A data file covered by more than one manifest. */
export interface DuplicatedCoverage {
  path: string;
  manifests: string[];
}

/** The outcome of checkManifests; paths are relative to the checked root, posix separators. */
export interface CoverageCheck {
  ok: boolean;
  root: string;
  manifests: string[];
  dataFiles: number;
  uncovered: string[];
  duplicated: DuplicatedCoverage[];
}

/** Shape of a data file as read for a manifest or dataset version. */
export interface DataShape {
  format: DataFormat;
  rows?: number;
  columns?: ManifestColumn[];
  readError?: string;
}

/** The data format of a file by extension, or null for non-data files (plain .json documents included). */
export function dataFormatOf(file: string): DataFormat | null {
  if (/\.json(\.gz|\.zst)?$/i.test(file)) return null;
  try {
    return detectFormat(file);
  } catch {
    return null;
  }
}

const toPosix = (p: string): string => p.split(path.sep).join('/');

function skippedName(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules';
}

/** Regular files under `dir` (absolute paths, sorted), skipping hidden entries, node_modules and symlinks. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string): Promise<void> => {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch (err) {
      throw new KilnError('E_IO', `cannot list ${d}: ${(err as Error).message}`, { file: d });
    }
    for (const e of entries) {
      if (skippedName(e.name)) continue;
      const full = path.join(d, e.name);
      if (e.isDirectory()) await visit(full);
      else if (e.isFile()) out.push(full);
    }
  };
  await visit(dir);
  return out.sort();
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function oneLine(message: string): string {
  const flat = message.replace(/\s+/g, ' ').trim();
  return flat.length > 1000 ? `${flat.slice(0, 997)}...` : flat;
}

async function arrowShape(file: string): Promise<{ rows: number; columns: ManifestColumn[] }> {
  const reader = await arrow.RecordBatchReader.from(fs.createReadStream(file));
  let rows = 0;
  for await (const rb of reader) rows += rb.numRows;
  return { rows, columns: reader.schema.fields.map((f) => ({ name: f.name, type: String(f.type) })) };
}

/** Row count and columns of a data file (CSV options auto-detected by DuckDB); never throws: failures become readError. */
export async function readDataShape(file: string, format: DataFormat): Promise<DataShape> {
  try {
    if (format === 'arrow') return { format, ...(await arrowShape(file)) };
    const source = format === 'csv' ? `read_csv(${sqlString(file)})` : sourceSql(file, { format });
    return await withConnection(async (conn) => {
      const described = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRows();
      const counted = (await conn.runAndReadAll(`SELECT count(*) FROM ${source}`)).getRows();
      return {
        format,
        rows: Number(counted[0]![0]),
        columns: described.map((r) => ({ name: String(r[0]), type: String(r[1]) })),
      };
    });
  } catch (err) {
    return { format, readError: oneLine(err instanceof Error ? err.message : String(err)) };
  }
}

/** Files a manifest at `manifestFile` never covers: itself and the *.receipt.json files beside it. */
function excludedBeside(manifestFile: string): (file: string) => boolean {
  const self = path.resolve(manifestFile);
  const folder = path.dirname(self);
  return (file) => file === self || (path.dirname(file) === folder && file.endsWith('.receipt.json'));
}

/**
 * Hashes every file under `dir` (streaming; hidden entries, node_modules, symlinks, the manifest
 * and receipts beside it skipped), reads rows/columns of data files, and writes the manifest
 * atomically to `outFile`. Returns the manifest.
 */
export async function createManifest(dir: string, outFile: string): Promise<Manifest> {
  const rootAbs = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = await fsp.stat(rootAbs);
  } catch {
    throw new KilnError('E_IO', `cannot create a manifest of ${dir}: no such folder`, { file: dir });
  }
  if (!st.isDirectory()) throw new KilnError('E_USAGE', `cannot create a manifest of ${dir}: not a folder`, { file: dir });
  const outAbs = path.resolve(outFile);
  const excluded = excludedBeside(outAbs);
  const files = (await listFiles(rootAbs)).filter((f) => !excluded(f));
  const entries = await mapLimit(files, HASH_CONCURRENCY, async (abs): Promise<ManifestFile> => {
    const format = dataFormatOf(abs);
    const [digest, shape] = await Promise.all([digestFile(abs), format ? readDataShape(abs, format) : Promise.resolve(null)]);
    const entry: ManifestFile = { path: toPosix(path.relative(rootAbs, abs)), size: digest.size, sha256: digest.sha256 };
    if (shape) Object.assign(entry, shape);
    return entry;
  });
  const manifest: Manifest = {
    kind: 'kiln.manifest',
    version: 1,
    createdAt: new Date().toISOString(),
    kilnVersion: KILN_VERSION,
    root: toPosix(path.relative(path.dirname(outAbs), rootAbs)) || '.',
    files: entries,
  };
  assertManifestShape(manifest, outFile);
  try {
    await writeFileAtomic(outAbs, JSON.stringify(manifest, null, 2) + '\n');
  } catch (err) {
    throw new KilnError('E_IO', `cannot write manifest ${outFile}: ${(err as Error).message}`, { file: outFile });
  }
  return manifest;
}

function assertManifestShape(value: unknown, file: string): asserts value is Manifest {
  const { validate } = compileSchema(schemaPath('manifest.schema.json'), { allErrors: true });
  if (!validate(value)) {
    const msgs = (validate.errors ?? []).slice(0, 10).map((e) => {
      const d = describeAjvError(e);
      return `${d.pointer || '/'}: ${d.message}`;
    });
    throw new KilnError('E_MANIFEST', `manifest ${file} does not match schemas/manifest.schema.json: ${msgs.join('; ')}`, { file, errors: msgs });
  }
  const seen = new Set<string>();
  for (const f of (value as Manifest).files) {
    if (seen.has(f.path)) throw new KilnError('E_MANIFEST', `manifest ${file} lists ${f.path} twice`, { file, path: f.path });
    seen.add(f.path);
  }
}

/** Parses and checks a manifest: E_IO when unreadable, E_MANIFEST when corrupt, not a manifest, or of an unknown version. */
export async function readManifest(file: string): Promise<Manifest> {
  let text: string;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) throw new Error('not a file');
    if (st.size > MAX_MANIFEST_BYTES) throw new KilnError('E_MANIFEST', `manifest ${file} is ${st.size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`, { file });
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof KilnError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new KilnError('E_IO', `cannot read manifest ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { file });
  }
  return parseManifest(text, file);
}

function parseManifest(text: string, file: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new KilnError('E_MANIFEST', `manifest ${file} is not valid JSON (corrupt or truncated?): ${(err as Error).message}`, { file });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new KilnError('E_MANIFEST', `${file} is not a kiln manifest (not a JSON object)`, { file });
  const obj = value as Record<string, unknown>;
  if (obj.kind !== 'kiln.manifest') throw new KilnError('E_MANIFEST', `${file} is not a kiln manifest (kind is ${JSON.stringify(obj.kind ?? null)}, expected "kiln.manifest")`, { file });
  if (obj.version !== 1) {
    throw new KilnError('E_MANIFEST', `manifest ${file} has version ${JSON.stringify(obj.version ?? null)}; this kiln (${KILN_VERSION}) reads version 1 only`, { file, version: obj.version });
  }
  assertManifestShape(obj, file);
  return obj;
}

/** Absolute folder a manifest covers. */
export function manifestRoot(manifestFile: string, manifest: Manifest): string {
  return path.resolve(path.dirname(path.resolve(manifestFile)), manifest.root);
}

/** Compares a folder with its manifest: existence and size, plus sha256 when `strict`. */
export async function validateManifest(manifestFile: string, opts: { strict?: boolean } = {}): Promise<ManifestValidation> {
  const strict = Boolean(opts.strict);
  const manifest = await readManifest(manifestFile);
  const rootAbs = manifestRoot(manifestFile, manifest);
  const excluded = excludedBeside(manifestFile);
  const listed = new Set(manifest.files.map((f) => f.path));
  let present: string[] = [];
  if (fs.existsSync(rootAbs)) present = (await listFiles(rootAbs)).filter((f) => !excluded(f)).map((f) => toPosix(path.relative(rootAbs, f)));
  const changed: ChangedFile[] = [];
  const missing: string[] = [];
  await mapLimit(manifest.files, HASH_CONCURRENCY, async (f) => {
    const abs = path.join(rootAbs, ...f.path.split('/'));
    let st: fs.Stats;
    try {
      st = await fsp.lstat(abs);
    } catch {
      missing.push(f.path);
      return;
    }
    if (!st.isFile()) missing.push(f.path);
    else if (st.size !== f.size) changed.push({ path: f.path, reason: 'size' });
    else if (strict && (await digestFile(abs)).sha256 !== f.sha256) changed.push({ path: f.path, reason: 'sha256' });
  });
  changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  missing.sort();
  const extra = present.filter((p) => !listed.has(p));
  return {
    ok: changed.length === 0 && missing.length === 0 && extra.length === 0,
    manifest: path.resolve(manifestFile),
    root: rootAbs,
    strict,
    checked: manifest.files.length,
    changed,
    missing,
    extra,
  };
}

/** Every kiln manifest under `dir` (a .json file of at most 64 MiB whose kind is "kiln.manifest"), sorted by path. */
export async function scanManifests(dir: string): Promise<ManifestEntry[]> {
  const rootAbs = path.resolve(dir);
  if (!fs.existsSync(rootAbs)) throw new KilnError('E_IO', `cannot scan ${dir}: no such folder`, { file: dir });
  const candidates = (await listFiles(rootAbs)).filter((f) => /\.json$/i.test(f));
  const found: ManifestEntry[] = [];
  for (const file of candidates) {
    let text: string;
    try {
      if ((await fsp.stat(file)).size > MAX_MANIFEST_BYTES) continue;
      text = await fsp.readFile(file, 'utf8');
    } catch {
      continue;
    }
    let kind: unknown;
    try {
      kind = (JSON.parse(text) as { kind?: unknown } | null)?.kind;
    } catch {
      continue;
    }
    if (kind !== 'kiln.manifest') continue;
    try {
      const m = parseManifest(text, file);
      found.push({ file, root: manifestRoot(file, m), files: m.files.length, createdAt: m.createdAt });
    } catch (err) {
      found.push({ file, root: '', files: 0, createdAt: '', error: (err as Error).message });
    }
  }
  return found;
}

/**
 * Single-source-of-truth guard: every data file under `root` must be listed by exactly one
 * manifest under `root`. A manifest that claims kind "kiln.manifest" but is corrupt is E_MANIFEST.
 */
export async function checkManifests(root: string): Promise<CoverageCheck> {
  const rootAbs = path.resolve(root);
  const entries = await scanManifests(rootAbs);
  const broken = entries.find((e) => e.error);
  if (broken) throw new KilnError('E_MANIFEST', `cannot check coverage: ${broken.error}`, { file: broken.file });
  const rel = (abs: string): string => toPosix(path.relative(rootAbs, abs));
  const coverage = new Map<string, string[]>();
  for (const e of entries) {
    const m = await readManifest(e.file);
    for (const f of m.files) {
      const abs = path.join(e.root, ...f.path.split('/'));
      const list = coverage.get(abs);
      if (list) list.push(rel(e.file));
      else coverage.set(abs, [rel(e.file)]);
    }
  }
  const dataFiles = (await listFiles(rootAbs)).filter((f) => dataFormatOf(f) !== null);
  const uncovered: string[] = [];
  const duplicated: DuplicatedCoverage[] = [];
  for (const abs of dataFiles) {
    const by = coverage.get(abs);
    if (!by) uncovered.push(rel(abs));
    else if (by.length > 1) duplicated.push({ path: rel(abs), manifests: [...by].sort() });
  }
  return {
    ok: uncovered.length === 0 && duplicated.length === 0,
    root: rootAbs,
    manifests: entries.map((e) => rel(e.file)),
    dataFiles: dataFiles.length,
    uncovered,
    duplicated,
  };
}
