import { randomBytes } from 'node:crypto';
import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';

/** A temp path beside `target` (same folder, so rename is atomic), hidden and unique. */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Flushes a file's data to disk. */
export async function fsyncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Runs `produce(tmp)` to write a temp file, then fsyncs and renames it onto `target`.
 * On any failure the temp file is removed and `target` is left as it was.
 */
export async function writeAtomically<T>(target: string, produce: (tmp: string) => Promise<T>): Promise<T> {
  await fsp.mkdir(path.dirname(path.resolve(target)), { recursive: true });
  const tmp = tempPathFor(path.resolve(target));
  try {
    const result = await produce(tmp);
    await fsyncFile(tmp);
    await fsp.rename(tmp, target);
    return result;
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/** Writes a string or bytes atomically. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await writeAtomically(target, (tmp) => fsp.writeFile(tmp, data));
}
