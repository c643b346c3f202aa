import React from 'react';
import { Box, Text, render, type Instance } from 'ink';
import type { ProgressState } from './progress.js';

function Bar({ state, started }: { state: ProgressState; started: number }): React.ReactElement {
  const frac = state.total > 0 ? Math.min(1, state.done / state.total) : 0;
  const width = 30;
  const filled = Math.round(frac * width);
  const secs = (Date.now() - started) / 1000;
  const rate = secs > 0 ? Math.round(state.done / secs) : 0;
  const known = state.total > 0;
  return (
    <Box flexDirection="column">
      <Box>
        <Text color="cyan">{state.stage.padEnd(10)}</Text>
        {known ? (
          <>
            <Text color="green">{'█'.repeat(filled)}</Text>
            <Text color="gray">{'░'.repeat(width - filled)}</Text>
            <Text> {(frac * 100).toFixed(1).padStart(5)}%  </Text>
          </>
        ) : (
          <Text>
            {'  '}
            <Text bold>{state.done.toLocaleString('en-US')}</Text> {state.unit}{'  '}
          </Text>
        )}
        <Text color="gray">
          {state.unit === 'B' ? `${(rate / 1e6).toFixed(1)} MB/s` : `${rate.toLocaleString('en-US')} ${state.unit}/s`}
        </Text>
      </Box>
      {state.counters ? (
        <Box>
          {Object.entries(state.counters).map(([k, v]) => (
            <Text key={k}>
              {'  '}
              {k} <Text bold>{v.toLocaleString('en-US')}</Text>
            </Text>
          ))}
        </Box>
      ) : null}
    </Box>
  );
}

/** A live Ink view of one progress state, re-rendered on each update. */
export class LiveProgressView {
  private instance: Instance | null = null;
  private readonly started = Date.now();

  constructor(private readonly stream: NodeJS.WriteStream) {}

  show(state: ProgressState): void {
    const el = <Bar state={state} started={this.started} />;
    if (this.instance) this.instance.rerender(el);
    else this.instance = render(el, { stdout: this.stream, patchConsole: false, exitOnCtrlC: false });
  }

  close(): void {
    this.instance?.unmount();
    this.instance = null;
  }
}
