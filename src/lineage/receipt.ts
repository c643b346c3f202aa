import { randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from '../../bindings/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { compileSchema, describeAjvError } from '../validate/schema.js';
import { KILN_VERSION, schemaPath } from '../version.js';
import { environmentSnapshot, gitInfo, type EnvironmentSnapshot, type GitInfo } from './environment.js';
import { canonicalJson, digestFile, hashJson, type FileDigest } from './hash.js';

/** How a run ended: gate_failed means it ran fine but a quality gate (reject rate, regression) failed. */
export type RunStatus = 'ok' | 'failed' | 'gate_failed';

/** A hashed file of a receipt: absolute path, size in bytes, sha256. */
export interface ReceiptFile {
  path: string;
  size: number;
  sha256: string;
}

/** An output a run that did not finish ok never wrote. */
export interface MissingOutput {
  path: string;
  missing: true;
}

/** A run receipt as written to `<output>.receipt.json` (schemas/receipt.schema.json). */
export interface Receipt {
  kind: 'kiln.receipt';
  version: 1;
  runId: string;
  command: string;
  status: RunStatus;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  kilnVersion: string;
  git: GitInfo | null;
  config: unknown;
  configHash: string;
  inputs: ReceiptFile[];
  outputs: Array<ReceiptFile | MissingOutput>;
  counts: Record<string, number>;
  environment: EnvironmentSnapshot;
  extra: Record<string, unknown>;
}

/** What a run reports when it ends. */
export interface FinishOptions {
  outputs: string[];
  /** Digests this run already took of some outputs (absolute path -> digest, e.g. from its manifest), used instead of reading them again. */
  knownDigests?: Map<string, FileDigest>;
  counts?: Record<string, number>;
  status?: RunStatus;
  extra?: Record<string, unknown>;
}

async function hashFiles(files: string[], role: 'input' | 'output', allowMissing: boolean, known?: Map<string, FileDigest>): Promise<Array<ReceiptFile | MissingOutput>> {
  return Promise.all(
    files.map(async (f) => {
      const abs = path.resolve(f);
      const digest = known?.get(abs);
      if (digest) return { path: abs, size: digest.size, sha256: digest.sha256 };
      try {
        return { path: abs, ...(await digestFile(abs)) };
      } catch (err) {
        if (allowMissing) return { path: abs, missing: true as const };
        throw new KilnError('E_IO', `cannot record ${role} ${f} in the run receipt: ${(err as Error).message}`, { file: f });
      }
    }),
  );
}

/** Records one run: start() hashes inputs (or begins to) and config and snapshots the environment, finish() hashes outputs. */
export class RunReceipt {
  private readonly startMs: number;

  private constructor(
    readonly runId: string,
    readonly command: string,
    readonly startedAt: string,
    private readonly config: unknown,
    readonly configHash: string,
    private readonly inputs: Promise<ReceiptFile[]>,
    readonly git: GitInfo | null,
    readonly environment: EnvironmentSnapshot,
  ) {
    this.startMs = Date.parse(startedAt);
  }

  /**
   * Starts a run of `command`: hashes the canonical config and every input (E_IO naming a missing
   * one). With `hashInputs: 'during-run'` it only checks that the inputs exist, hashes them while
   * the run works (for runs that spend their time in native threads) and finish() waits for them.
   */
  static async start(command: string, opts: { config?: unknown; inputs?: string[]; hashInputs?: 'at-start' | 'during-run' } = {}): Promise<RunReceipt> {
    if (!command.trim()) throw new KilnError('E_USAGE', 'a run receipt needs a command name');
    const startedAt = new Date().toISOString();
    const config: unknown = JSON.parse(canonicalJson(opts.config ?? {}));
    const files = opts.inputs ?? [];
    const duringRun = opts.hashInputs === 'during-run';
    if (duringRun) {
      await Promise.all(
        files.map((f) =>
          fsp.stat(f).catch((err: Error) => {
            throw new KilnError('E_IO', `cannot record input ${f} in the run receipt: ${err.message}`, { file: f });
          }),
        ),
      );
    }
    const hashing = hashFiles(files, 'input', false) as Promise<ReceiptFile[]>;
    if (duringRun) hashing.catch(() => undefined); // finish() reports it; a run that fails first never asks
    const [git, environment] = await Promise.all([gitInfo(), environmentSnapshot(), duringRun ? null : hashing]);
    return new RunReceipt(randomUUID(), command, startedAt, config, hashJson(config), hashing, git, environment);
  }

  /** The inputs' digests (waits for them when they are hashed during the run). */
  inputDigests(): Promise<ReceiptFile[]> {
    return this.inputs;
  }

  /** Ends the run and returns its receipt; outputs are hashed now. A missing output is E_IO unless status is not 'ok'. */
  async finish(opts: FinishOptions): Promise<Receipt> {
    const status = opts.status ?? 'ok';
    const inputs = await this.inputDigests();
    const outputs = await hashFiles(opts.outputs, 'output', status !== 'ok', opts.knownDigests);
    const endMs = Math.max(Date.now(), this.startMs);
    const counts: Record<string, number> = {};
    for (const [k, v] of Object.entries(opts.counts ?? {})) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new KilnError('E_USAGE', `receipt count "${k}" must be a finite number, got ${String(v)}`);
      counts[k] = v;
    }
    return {
      kind: 'kiln.receipt',
      version: 1,
      runId: this.runId,
      command: this.command,
      status,
      startedAt: this.startedAt,
      endedAt: new Date(endMs).toISOString(),
      durationMs: endMs - this.startMs,
      kilnVersion: KILN_VERSION,
      git: this.git,
      config: this.config,
      configHash: this.configHash,
      inputs,
      outputs,
      counts,
      environment: this.environment,
      extra: JSON.parse(canonicalJson(opts.extra ?? {})) as Record<string, unknown>,
    };
  }
}

/** Where the receipt of a run whose main output is `outputPath` lives. */
export function receiptPathFor(outputPath: string): string {
  return `${outputPath}.receipt.json`;
}

/** Throws E_SCHEMA when `receipt` does not match schemas/receipt.schema.json (always a kiln bug). */
export function assertValidReceipt(receipt: unknown, where = 'receipt'): asserts receipt is Receipt {
  const { validate } = compileSchema(schemaPath('receipt.schema.json'), { allErrors: true });
  if (!validate(receipt)) {
    const msgs = (validate.errors ?? []).map((e) => {
      const d = describeAjvError(e);
      return `${d.pointer || '/'}: ${d.message}`;
    });
    throw new KilnError('E_SCHEMA', `${where} does not match schemas/receipt.schema.json (a kiln bug): ${msgs.join('; ')}`, { errors: msgs });
  }
}

/** Validates the receipt and writes it atomically to `<outputPath>.receipt.json`; returns that path. */
export async function writeReceipt(receipt: Receipt, outputPath: string): Promise<string> {
  const file = receiptPathFor(outputPath);
  assertValidReceipt(receipt, `receipt ${file}`);
  await writeFileAtomic(file, JSON.stringify(receipt, null, 2) + '\n');
  return file;
}
