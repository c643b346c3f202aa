/** One progress reading of a long stage. */
export interface ProgressState {
  stage: string;
  done: number;
  /** 0 when the total is not known: the view then shows the count and its rate, no bar. */
  total: number;
  unit: string;
  /** Extra counters shown beside the bar (e.g. accepted / rejected). */
  counters?: Record<string, number>;
}

/** Where a command reports progress: live (Ink, TTY) or one plain line per stage (logs, CI). */
export interface ProgressReporter {
  update(state: ProgressState): void;
  /** Ends the live view (plain mode prints nothing more). */
  stop(): Promise<void>;
}

/** Live Ink progress for TTYs (Ink is loaded only then); in plain mode one line when each stage starts. */
export function createProgress(opts: { live: boolean; stream?: NodeJS.WriteStream }): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  if (!opts.live) {
    let lastStage = '';
    return {
      update(state) {
        if (state.stage !== lastStage) {
          lastStage = state.stage;
          stream.write(`kiln: ${state.stage}…\n`);
        }
      },
      async stop() {},
    };
  }
  let latest: ProgressState | null = null;
  let lastDraw = 0;
  let view: import('./progress-view.js').LiveProgressView | null = null;
  const loading = import('./progress-view.js').then((m) => {
    view = new m.LiveProgressView(stream);
    if (latest) view.show(latest);
  });
  return {
    update(state) {
      latest = state;
      const now = Date.now();
      if (!view || (now - lastDraw < 80 && state.done < state.total)) return;
      lastDraw = now;
      view.show(state);
    },
    async stop() {
      await loading;
      if (latest && view) view.show(latest);
      view?.close();
    },
  };
}

/** True when live progress should be drawn: a TTY on stderr, not --json, not CI. */
export function wantsLiveProgress(json: boolean): boolean {
  return Boolean(process.stderr.isTTY) && !json && !process.env.CI && process.env.TERM !== 'dumb';
}
