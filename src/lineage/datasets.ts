import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { KilnError } from '../../bindings/errors.js';
import { writeAtomically, writeFileAtomic } from '../io/atomic.js';
import type { DataFormat } from '../io/formats.js';
import { digestFile } from './hash.js';
import { dataFormatOf, readDataShape, type ManifestColumn } from './manifest.js';

/** A stored dataset version (`<store>/<id>/version.json`). */
export interface DatasetVersionInfo {
  id: string;
  sha256: string;
  size: number;
  sourcePath: string;
  fileName: string;
  dataFile: string;
  format: DataFormat | null;
  rows?: number;
  columns?: ManifestColumn[];
  readError?: string;
  meta: Record<string, string>;
  createdAt: string;
  /** Set by createVersion when the content was already stored (the first info is kept). */
  existing?: boolean;
}

const ID_RE = /^ds_[0-9a-f]{16}$/;

/** The default store: $KILN_HOME/datasets, else ./.kiln/datasets. */
export function defaultDatasetStore(): string {
  const home = process.env.KILN_HOME;
  return home ? path.join(home, 'datasets') : path.resolve('.kiln/datasets');
}

/** The dataset id of content with this sha256: "ds_" + its first 16 hex digits. */
export function datasetIdFor(sha256: string): string {
  return `ds_${sha256.slice(0, 16)}`;
}

/** The extension a stored copy keeps: the compound one for compressed files (".csv.gz"), else the last one. */
function storedExtension(fileName: string): string {
  const compound = /(\.[A-Za-z0-9]+\.(?:gz|zst|bz2|xz))$/.exec(fileName);
  return (compound ? compound[1]! : path.extname(fileName)).toLowerCase();
}

/** Content-addressed, read-only copies of data files: the same bytes always get the same id. */
export class DatasetVersions {
  /** Absolute path of the store folder. */
  readonly storeDir: string;

  constructor(storeDir: string = defaultDatasetStore()) {
    this.storeDir = path.resolve(storeDir);
  }

  private versionDir(id: string): string {
    if (!ID_RE.test(id)) throw new KilnError('E_DATASET', `"${id}" is not a dataset version id (expected ds_ and 16 hex digits)`, { id });
    return path.join(this.storeDir, id);
  }

  /** Stores a read-only copy of `file` and its info; when the content is already stored, returns the first info with existing: true. */
  async createVersion(file: string, meta: Record<string, string> = {}): Promise<DatasetVersionInfo> {
    const sourcePath = path.resolve(file);
    let st: fs.Stats;
    try {
      st = await fsp.stat(sourcePath);
    } catch {
      throw new KilnError('E_IO', `cannot snapshot ${file}: no such file`, { file });
    }
    if (!st.isFile()) throw new KilnError('E_IO', `cannot snapshot ${file}: not a regular file`, { file });
    for (const [k, v] of Object.entries(meta)) {
      if (typeof v !== 'string') throw new KilnError('E_USAGE', `dataset meta "${k}" must be a string`, { key: k });
    }
    const { sha256, size } = await digestFile(sourcePath);
    const id = datasetIdFor(sha256);
    const dir = this.versionDir(id);
    const existing = await this.tryReadInfo(id);
    if (existing) return { ...existing, existing: true };

    const fileName = path.basename(sourcePath);
    const dataFile = `data${storedExtension(fileName)}`;
    const dataPath = path.join(dir, dataFile);
    await fsp.mkdir(dir, { recursive: true });
    await writeAtomically(dataPath, async (tmp) => {
      const hash = createHash('sha256');
      await pipeline(
        fs.createReadStream(sourcePath),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        },
        fs.createWriteStream(tmp),
      );
      const copied = hash.digest('hex');
      if (copied !== sha256) throw new KilnError('E_IO', `${file} changed while it was being snapshotted (sha256 ${copied}, expected ${sha256}); try again`, { file });
      await fsp.chmod(tmp, 0o444);
    });

    const format = dataFormatOf(fileName);
    const shape = format ? await readDataShape(dataPath, format) : null;
    const info: DatasetVersionInfo = {
      id,
      sha256,
      size,
      sourcePath,
      fileName,
      dataFile,
      format,
      ...(shape?.rows !== undefined ? { rows: shape.rows } : {}),
      ...(shape?.columns ? { columns: shape.columns } : {}),
      ...(shape?.readError ? { readError: shape.readError } : {}),
      meta: Object.fromEntries(Object.entries(meta).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      createdAt: new Date().toISOString(),
    };
    await writeFileAtomic(path.join(dir, 'version.json'), JSON.stringify(info, null, 2) + '\n');
    return info;
  }

  private async tryReadInfo(id: string): Promise<DatasetVersionInfo | null> {
    const file = path.join(this.versionDir(id), 'version.json');
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new KilnError('E_DATASET', `cannot read dataset version ${id} (${file}): ${(err as Error).message}`, { id, file });
    }
    let info: DatasetVersionInfo;
    try {
      info = JSON.parse(text) as DatasetVersionInfo;
    } catch (err) {
      throw new KilnError('E_DATASET', `dataset version ${id} is corrupt: ${file} is not valid JSON (${(err as Error).message})`, { id, file });
    }
    if (info === null || typeof info !== 'object' || info.id !== id || typeof info.sha256 !== 'string' || typeof info.dataFile !== 'string' || path.basename(info.dataFile) !== info.dataFile) {
      throw new KilnError('E_DATASET', `dataset version ${id} is corrupt: ${file} does not describe ${id}`, { id, file });
    }
    return info;
  }

  /** The stored info of a version; E_DATASET naming the id when it is unknown or corrupt. */
  async getVersionInfo(id: string): Promise<DatasetVersionInfo> {
    const info = await this.tryReadInfo(id);
    if (!info) throw new KilnError('E_DATASET', `unknown dataset version ${id} (store: ${this.storeDir})`, { id, store: this.storeDir });
    return info;
  }

  /** Absolute path of the stored copy after re-hashing it; E_DATASET when it is missing or its bytes changed. */
  async loadVersion(id: string): Promise<string> {
    const info = await this.getVersionInfo(id);
    const dataPath = path.join(this.versionDir(id), info.dataFile);
    let actual: string;
    try {
      actual = (await digestFile(dataPath)).sha256;
    } catch {
      throw new KilnError('E_DATASET', `dataset version ${id} is damaged: its stored copy ${dataPath} is missing or unreadable`, { id, file: dataPath });
    }
    if (actual !== info.sha256) {
      throw new KilnError('E_DATASET', `dataset version ${id} was tampered with: ${dataPath} has sha256 ${actual}, expected ${info.sha256}`, { id, file: dataPath, expected: info.sha256, actual });
    }
    return dataPath;
  }

  /** Every stored version, oldest first (ties by id). */
  async listVersions(): Promise<DatasetVersionInfo[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.storeDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new KilnError('E_IO', `cannot list dataset store ${this.storeDir}: ${(err as Error).message}`, { file: this.storeDir });
    }
    const infos: DatasetVersionInfo[] = [];
    for (const name of names.filter((n) => ID_RE.test(n))) {
      const info = await this.tryReadInfo(name);
      if (info) infos.push(info);
    }
    return infos.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
