import type { Command } from 'commander';
import { isKilnError, KilnError } from '../src/index.js';

/** kiln's exit codes: 0 success, 1 a gate failed, 2 bad usage or unreadable input, 3 internal error, 130 cancelled (Ctrl-C, SIGTERM). */
export const EXIT = { OK: 0, GATE: 1, USAGE: 2, INTERNAL: 3, CANCELLED: 130 } as const;

const USAGE_CODES = new Set(['E_USAGE', 'E_IO', 'E_SCHEMA', 'E_NATIVE_INPUT', 'E_MANIFEST', 'E_DATASET', 'E_MODEL_FORMAT', 'E_DATA_CHANGED']);

/** The exit code an error maps to. */
export function exitCodeFor(err: unknown): number {
  if (isKilnError(err) && err.code === 'E_CANCELLED') return EXIT.CANCELLED;
  if (isKilnError(err) && err.code === 'E_GATE') return EXIT.GATE;
  if (isKilnError(err) && err.code === 'E_VALIDATION') return EXIT.GATE;
  if (isKilnError(err)) return USAGE_CODES.has(err.code) ? EXIT.USAGE : EXIT.INTERNAL;
  return EXIT.INTERNAL;
}

/** Prints an error (JSON on stdout with --json, else one line on stderr) and returns its exit code. */
export function reportError(err: unknown, json: boolean): number {
  const code = exitCodeFor(err);
  const e = err instanceof Error ? err : new Error(String(err));
  const kilnCode = isKilnError(e) ? e.code : 'E_INTERNAL';
  if (json) {
    const details = isKilnError(e) ? e.details : undefined;
    process.stdout.write(JSON.stringify({ ok: false, error: { code: kilnCode, message: e.message, ...(details ? { details } : {}) } }, null, 2) + '\n');
  } else {
    process.stderr.write(`kiln: ${kilnCode}: ${e.message}\n`);
    if (code === EXIT.INTERNAL && process.env.KILN_DEBUG && e.stack) process.stderr.write(e.stack + '\n');
  }
  return code;
}

/** Wraps a command action: runs it, sets the exit code it returns, and reports any thrown error. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command | undefined;
    const json = Boolean(cmd && typeof cmd.optsWithGlobals === 'function' && cmd.optsWithGlobals().json);
    try {
      const code = await fn(...args);
      process.exitCode = code ?? EXIT.OK;
    } catch (err) {
      process.exitCode = reportError(err, json);
    }
  };
}

/** Adds an "Examples:" block to a command's --help. */
export function withExamples(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/** Prints a value as pretty JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v), 2) + '\n');
}

/** Parses a non-negative integer option or throws a usage error naming it. */
export function intOption(name: string, min = 0): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new KilnError('E_USAGE', `${name} must be an integer ≥ ${min}, got "${v}"`);
    return n;
  };
}

/** Parses a number option in [min, max] or throws a usage error naming it. */
export function numberOption(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new KilnError('E_USAGE', `${name} must be a number in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

/** Pads a table of strings into aligned columns. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Runs `fn` with an AbortSignal that SIGINT/SIGTERM trigger, so long work stops cleanly and removes its temp files. */
export async function withCancellation<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  try {
    return await fn(controller.signal);
  } finally {
    process.removeListener('SIGINT', abort);
    process.removeListener('SIGTERM', abort);
  }
}
