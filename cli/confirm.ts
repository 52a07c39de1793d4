// The question `run` and `sweep submit` ask before a very large sweep: answered "y" at a
// terminal, or `--yes`; without a terminal the command refuses, naming the size and the flag.
import { createInterface } from 'node:readline/promises';
import { usageError } from './command.js';
import { confirmationReason, type SweepSize } from './sweep-size.js';

export interface ConfirmOptions {
  file: string;
  size: SweepSize;
  yes: boolean;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

export async function confirmSweepSize(o: ConfirmOptions): Promise<void> {
  const reason = confirmationReason(o.size);
  if (reason === undefined || o.yes) return;
  const stdin = o.stdin ?? process.stdin;
  const what = `${o.file}: this sweep has ${reason}`;
  if (stdin.isTTY !== true)
    throw usageError(`${what}; check seeds, axes and train.epochs, or pass --yes to start it anyway`);
  const rl = createInterface({ input: stdin, output: o.stderr });
  try {
    const answer = await rl.question(`${what}. Start it? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw usageError(`${o.file}: not started`);
  } finally {
    rl.close();
  }
}
