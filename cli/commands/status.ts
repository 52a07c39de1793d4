import type { SweepStatus } from '../../proto/index.js';
import { intFlag, parseFlags, type Command } from '../command.js';
import { fmt, table } from '../format.js';
import { DEFAULT_COORDINATOR, SweepClient } from '../grpc-client.js';

function render(s: SweepStatus): string {
  const counts = Object.entries(s.trials_by_state)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const head = `sweep ${s.sweep_id}: ${s.state} — ${s.trials_total} trials (${counts}); epochs ${s.epochs_done}/${s.epochs_total}\n`;
  if (s.trials.length === 0) return head;
  return (
    head +
    '\n' +
    table(
      ['trial', 'seed', 'axes', 'state', 'attempt', 'epoch', 'loss', 'val_acc', 'reason'],
      s.trials.map((t) => [
        t.trial_id,
        t.seed,
        Object.entries(t.axes)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
        t.state,
        t.attempt,
        t.epoch,
        fmt(t.final_loss),
        fmt(t.final_val_acc),
        t.reason,
      ]),
    )
  );
}

const command: Command = {
  help: `Usage: phasesweep status [SWEEP] [--coordinator HOST:PORT] [--json] [--wait [--timeout-s N]]

Without SWEEP, lists the sweeps. --wait polls until SWEEP is finished (exit 1 if any trial failed).`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, {
      coordinator: { type: 'string', default: DEFAULT_COORDINATOR },
      json: { type: 'boolean' },
      wait: { type: 'boolean' },
      'timeout-s': { type: 'string' },
    });
    const client = new SweepClient(values.coordinator);
    try {
      const sweepId = positionals[0];
      if (sweepId === undefined) {
        const { sweeps } = await client.list();
        io.stdout.write(
          values.json ? JSON.stringify(sweeps) + '\n' : sweeps.map(render).join('') || 'no sweeps\n',
        );
        return;
      }
      const deadline = Date.now() + intFlag('timeout-s', values['timeout-s'], 3600, 1) * 1000;
      let s = await client.get(sweepId);
      while (values.wait && s.state === 'running' && Date.now() < deadline && !io.signal.aborted) {
        await new Promise((r) => setTimeout(r, 500));
        s = await client.get(sweepId);
      }
      io.stdout.write(values.json ? JSON.stringify(s) + '\n' : render(s));
      return s.state === 'failed' || (values.wait && s.state === 'running') ? 1 : 0;
    } finally {
      client.close();
    }
  },
};
export default command;
