import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import os from 'node:os';
import { KilnError } from '../../bindings/errors.js';

let instance: Promise<DuckDBInstance> | null = null;

/** The process-wide embedded DuckDB (in memory, threads = cores unless KILN_THREADS). */
export function duckdb(): Promise<DuckDBInstance> {
  if (!instance) {
    const threads = String(Number(process.env.KILN_THREADS) > 0 ? Number(process.env.KILN_THREADS) : os.availableParallelism());
    instance = DuckDBInstance.create(':memory:', { threads });
  }
  return instance;
}

/** Runs `fn` with a fresh connection that is closed afterwards. */
export async function withConnection<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const conn = await (await duckdb()).connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
  }
}

/** DuckDB's version string, e.g. "v1.5.6". */
export async function duckdbVersion(): Promise<string> {
  return withConnection(async (c) => String((await c.runAndReadAll('select version()')).getRows()[0]![0]));
}

/** Wraps DuckDB's errors (file missing, parse errors with line numbers) as KilnError E_IO. */
export function duckdbError(err: unknown, context: Record<string, unknown>): KilnError {
  if (err instanceof KilnError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new KilnError('E_IO', message, context);
}
