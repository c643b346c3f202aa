// Headless Chromium driven over the Chrome DevTools Protocol through a pipe
// (--remote-debugging-pipe: the browser reads commands from fd 3 and writes replies and events
// to fd 4, each message JSON terminated by a NUL byte). No WebSocket client and no npm package
// needed; Debian's `chromium` is installed by scripts/ensure-chromium.sh.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { makeTemp, ROOT, rmTemp } from './paths.js';

/** The browser binary: $KILN_CHROMIUM, else Debian's /usr/bin/chromium. */
export const CHROMIUM = process.env.KILN_CHROMIUM || '/usr/bin/chromium';

/** The flags the issue asks for, plus the pipe and a throwaway profile. */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

export function chromiumAvailable(): boolean {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The installer the test runs when the browser is missing. */
export const ENSURE_CHROMIUM = path.join(ROOT, 'scripts/ensure-chromium.sh');

/**
 * Makes sure the browser is there: when it is missing, runs scripts/ensure-chromium.sh (apt-get
 * as root or through password-less sudo; no stdin, bounded time). `reason` is null when the
 * browser can be used, else why it cannot be installed here (the script's last stderr line).
 */
export function ensureChromium(timeoutMs = 600_000): { available: boolean; installed: boolean; reason: string | null } {
  if (chromiumAvailable()) return { available: true, installed: false, reason: null };
  const r = spawnSync('bash', [ENSURE_CHROMIUM], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (chromiumAvailable()) return { available: true, installed: true, reason: null };
  const last = (r.stderr ?? '').trim().split('\n').filter(Boolean).pop();
  const why = r.error ? `${r.error.message}` : r.signal ? `killed by ${r.signal} after ${timeoutMs} ms` : (last ?? `exit status ${r.status}`);
  return { available: false, installed: false, reason: `no Chromium at ${CHROMIUM} and scripts/ensure-chromium.sh could not install it: ${why}` };
}

/** Every browser this process started and has not yet seen exit: killed if the test process exits first. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  method: string;
}

export interface CdpEvent {
  method: string;
  params: Record<string, unknown>;
  sessionId?: string;
}

/** One headless browser with one page, and every CDP event it sent. */
export class Chromium {
  readonly events: CdpEvent[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly waiters: { test: (e: CdpEvent) => boolean; resolve: (e: CdpEvent) => void }[] = [];
  private buffer = Buffer.alloc(0);
  private stderr = '';
  private exited: string | null = null;
  sessionId = '';

  private constructor(
    private readonly proc: ChildProcess,
    private readonly profile: string,
  ) {
    const out = proc.stdio[4] as Readable;
    out.on('data', (chunk: Buffer) => this.onData(chunk));
    // a browser that dies mid-write breaks the pipes: surface it through `exited`, never as an unhandled error
    for (const s of [proc.stdio[3], proc.stdio[4], proc.stderr]) (s as Readable | Writable | null)?.on('error', () => {});
    proc.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 64_000) this.stderr += d.toString('utf8');
    });
    proc.on('exit', (code, signal) => {
      this.exited = `chromium exited (code ${code}, signal ${signal})`;
      for (const p of this.pending.values()) p.reject(new Error(`${this.exited} during ${p.method}\n${this.stderr.slice(-4000)}`));
      this.pending.clear();
    });
  }

  /**
   * Starts the browser (fresh temp profile, the issue's flags) and attaches to a blank page.
   * On any failure, including a start slower than `timeoutMs`, the browser is killed and its
   * profile removed before the error propagates.
   */
  static async launch(extraFlags: string[] = [], timeoutMs = 30_000): Promise<Chromium> {
    const profile = makeTemp('kiln-chromium-');
    let proc: ChildProcess;
    try {
      proc = spawn(CHROMIUM, [...CHROMIUM_FLAGS, '--remote-debugging-pipe', `--user-data-dir=${profile}`, '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-sync', '--disable-component-update', '--hide-scrollbars', '--mute-audio', ...extraFlags, 'about:blank'], {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      });
    } catch (e) {
      rmTemp(profile);
      throw e;
    }
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const browser = new Chromium(proc, profile);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`chromium did not start within ${timeoutMs} ms`)), timeoutMs);
        proc.once('spawn', () => {
          clearTimeout(timer);
          resolve();
        });
        proc.once('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
      const { targetId } = (await browser.send('Target.createTarget', { url: 'about:blank' }, timeoutMs)) as { targetId: string };
      const { sessionId } = (await browser.send('Target.attachToTarget', { targetId, flatten: true }, timeoutMs)) as { sessionId: string };
      browser.sessionId = sessionId;
      return browser;
    } catch (e) {
      await browser.close();
      throw e;
    }
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (let end = this.buffer.indexOf(0); end >= 0; end = this.buffer.indexOf(0)) {
      const text = this.buffer.subarray(0, end).toString('utf8');
      this.buffer = this.buffer.subarray(end + 1);
      const msg = JSON.parse(text) as { id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, unknown>; sessionId?: string };
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        if (!p) continue;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result ?? {});
      } else if (msg.method) {
        const ev: CdpEvent = { method: msg.method, params: msg.params ?? {}, ...(msg.sessionId ? { sessionId: msg.sessionId } : {}) };
        this.events.push(ev);
        for (let i = this.waiters.length - 1; i >= 0; i--) {
          if (this.waiters[i]!.test(ev)) this.waiters.splice(i, 1)[0]!.resolve(ev);
        }
      }
    }
  }

  /** Sends a browser-level command (no session). */
  send(method: string, params: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return this.sendRaw(method, params, undefined, timeoutMs);
  }

  /** Sends a command to the page. */
  page(method: string, params: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return this.sendRaw(method, params, this.sessionId, timeoutMs);
  }

  private sendRaw(method: string, params: Record<string, unknown>, sessionId: string | undefined, timeoutMs: number): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(new Error(`${this.exited}\n${this.stderr.slice(-4000)}`));
    const id = this.nextId++;
    const msg = JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`CDP ${method} timed out after ${timeoutMs} ms\n${this.stderr.slice(-4000)}`));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      (this.proc.stdio[3] as Writable).write(`${msg}\0`);
    });
  }

  /** Resolves with the first event (already received, or future) matching `test`. */
  waitFor(test: (e: CdpEvent) => boolean, timeoutMs = 20_000, what = 'event', since = 0): Promise<CdpEvent> {
    const seen = this.events.slice(since).find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        test,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** Evaluates an expression in the page and returns its JSON value; page exceptions throw. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.page('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })) as { result: { value: T }; exceptionDetails?: { text: string } };
    if (r.exceptionDetails) throw new Error(`page evaluation failed: ${r.exceptionDetails.text}`);
    return r.result.value;
  }

  /** Closes the browser (Browser.close, then SIGKILL after 5 s) and removes its profile folder. */
  async close(): Promise<void> {
    if (!this.exited && this.proc.exitCode === null && this.proc.signalCode === null) {
      const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      try {
        if (this.proc.pid !== undefined) await this.send('Browser.close', {}, 5000);
      } catch {
        // already going away, or the pipe is broken: the timer kills it
      }
      if (this.proc.pid === undefined) clearTimeout(timer);
      else await gone;
      clearTimeout(timer);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        rmTemp(this.profile);
        break;
      } catch (e) {
        // a dying browser may still be writing its profile
        if (attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}

/** A console message or page error the test treats as a failure. */
export interface PageProblem {
  source: string;
  level: string;
  text: string;
}

/**
 * Problems among the page session's events: console.error/warn/assert calls, uncaught
 * exceptions, browser log entries at warning level or above (CSP violations, failed loads).
 */
export function pageProblems(events: CdpEvent[], sessionId: string, since = 0): PageProblem[] {
  const out: PageProblem[] = [];
  for (const e of events.slice(since)) {
    if (e.sessionId !== sessionId) continue;
    if (e.method === 'Runtime.consoleAPICalled') {
      const type = String(e.params.type);
      if (type === 'error' || type === 'warning' || type === 'assert') {
        const args = (e.params.args as { value?: unknown; description?: string }[]) ?? [];
        out.push({ source: 'console', level: type, text: args.map((a) => String(a.value ?? a.description ?? '')).join(' ') });
      }
    } else if (e.method === 'Runtime.exceptionThrown') {
      const d = e.params.exceptionDetails as { text?: string; exception?: { description?: string } };
      out.push({ source: 'exception', level: 'error', text: `${d.text ?? ''} ${d.exception?.description ?? ''}`.trim() });
    } else if (e.method === 'Log.entryAdded') {
      const entry = e.params.entry as { level: string; text: string; source: string; url?: string };
      if (entry.level === 'error' || entry.level === 'warning') out.push({ source: `log:${entry.source}`, level: entry.level, text: `${entry.text}${entry.url ? ` (${entry.url})` : ''}` });
    }
  }
  return out;
}
