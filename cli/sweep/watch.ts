import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { intFlag, parseFlags, type Command } from '../command.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom } from '../connection-flags.js';
import { failureDetails } from '../failures.js';
import { SweepClient } from '../grpc-client.js';
import { counts } from './render.js';

const command: Command = {
  help: `Usage: phasesweep sweep watch [SWEEP…] [--interval-ms N] [--json] [connection flags]

Shows live progress bars (epochs done / total) for the given sweeps, or all of them, until they
finish. --json prints one status line per sweep per interval instead.
${CONNECTION_HELP}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, {
      ...CONNECTION_FLAGS,
      json: { type: 'boolean' },
      'interval-ms': { type: 'string' },
    });
    const interval = intFlag('interval-ms', values['interval-ms'], 1000, 50);
    const client = new SweepClient(connectionFrom(values));
    const bars = new Map<string, SingleBar>();
    const multi = values.json
      ? undefined
      : new MultiBar(
          {
            format: ' {sweep} {bar} {percentage}% | epochs {value}/{total} | {states}',
            stream: io.stderr,
            hideCursor: true,
            noTTYOutput: true,
          },
          Presets.shades_classic,
        );
    try {
      for (;;) {
        const ids =
          positionals.length > 0 ? positionals : (await client.list()).sweeps.map((s) => s.sweep_id);
        const statuses = await Promise.all(ids.map((id) => client.get(id)));
        for (const s of statuses) {
          if (values.json) {
            io.stdout.write(JSON.stringify({ ...s, trials: undefined }) + '\n');
            continue;
          }
          const payload = { sweep: s.sweep_id.padEnd(16), states: counts(s) };
          const bar = bars.get(s.sweep_id);
          if (bar === undefined) bars.set(s.sweep_id, multi!.create(s.epochs_total, s.epochs_done, payload));
          else {
            bar.setTotal(s.epochs_total);
            bar.update(s.epochs_done, payload);
          }
        }
        if (statuses.every((s) => s.state !== 'running') || io.signal.aborted) {
          if (!values.json) {
            multi?.stop();
            for (const s of statuses) io.stderr.write(failureDetails(s.trials));
          }
          break;
        }
        await new Promise((r) => setTimeout(r, interval));
      }
    } finally {
      multi?.stop();
      client.close();
    }
  },
};
export default command;
