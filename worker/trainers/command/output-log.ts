// A trainer's stdout and stderr: each line goes to the worker's log with the trial's prefix, and
// the last lines are kept for the result of a failed attempt. Pure apart from the log calls.
import type { WorkerLogger } from '../../agent.js';

/** Longest line kept whole; longer ones (a progress bar without newlines) are cut. */
const MAX_LINE = 4096;

export class OutputLog {
  private readonly lines: string[] = [];
  private readonly partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };

  constructor(
    private readonly prefix: string,
    private readonly log: WorkerLogger,
    private readonly keep = 50,
  ) {}

  write(stream: 'stdout' | 'stderr', chunk: string): void {
    const parts = (this.partial[stream] + chunk).split('\n');
    let rest = parts.pop()!;
    for (const line of parts) this.line(stream, line);
    while (rest.length > MAX_LINE) {
      this.line(stream, rest.slice(0, MAX_LINE));
      rest = rest.slice(MAX_LINE);
    }
    this.partial[stream] = rest;
  }

  /** The stream ended: an unfinished last line counts as a line. */
  end(stream: 'stdout' | 'stderr'): void {
    if (this.partial[stream] !== '') this.line(stream, this.partial[stream]);
    this.partial[stream] = '';
  }

  /** The last lines, oldest first, stdout and stderr interleaved as they came. */
  tail(): string {
    return this.lines.join('\n');
  }

  /** The last non-empty line, for a short failure reason. */
  lastLine(): string | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) if (this.lines[i]!.trim() !== '') return this.lines[i];
    return undefined;
  }

  private line(stream: 'stdout' | 'stderr', text: string): void {
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    const cut = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
    this.log.info(`${this.prefix} ${stream}: ${cut}`);
    this.lines.push(cut);
    if (this.lines.length > this.keep) this.lines.shift();
  }
}
