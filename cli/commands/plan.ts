import { expandSweep, loadSweepSpec } from '../../spec/index.js';
import { parseFlags, usageError, type Command } from '../command.js';
import { table } from '../format.js';

const command: Command = {
  help: `Usage: phasesweep plan SPEC.yaml [--json]

Validates the sweep spec and prints its trials (id, seed, axis levels) without running anything.
  --json   print {"sweep","trials":[{trial_id,seed,axes}],"count"}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' } });
    const file = positionals[0];
    if (file === undefined) throw usageError('plan: missing SPEC.yaml');
    const spec = await loadSweepSpec(file);
    const trials = expandSweep(spec);
    if (values.json) {
      io.stdout.write(
        JSON.stringify(
          {
            sweep: spec.name,
            count: trials.length,
            trials: trials.map((t) => ({ trial_id: t.trialId, seed: t.seed, axes: t.axes })),
          },
          null,
          1,
        ) + '\n',
      );
      return;
    }
    const axes = Object.keys(spec.axes);
    io.stdout.write(
      table(
        ['trial', 'seed', ...axes],
        trials.map((t) => [t.trialId, t.seed, ...axes.map((a) => JSON.stringify(t.axes[a]))]),
      ),
    );
    io.stdout.write(
      `\n${trials.length} trials (${axes.length} axes × ${Array.isArray(spec.seeds) ? spec.seeds.length : spec.seeds} seeds)\n`,
    );
  },
};
export default command;
