import { readFile } from 'node:fs/promises';
import { expandSweep, loadSweepSpec } from '../../spec/index.js';
import { parseFlags, usageError, type Command } from '../command.js';
import { confirmSweepSize } from '../confirm.js';
import { sweepSize } from '../sweep-size.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom } from '../connection-flags.js';
import { SweepClient } from '../grpc-client.js';

const command: Command = {
  help: `Usage: phasesweep sweep submit SPEC.yaml [--json] [connection flags]

Submits a sweep. Submitting the same sweep again adds only trials it does not have yet
(new seeds or levels); trial ids are deterministic.
  --yes   submit a very large sweep without asking (above 10 000 trials or 10 million
          trial-epochs, submit asks first, and refuses without a terminal)
${CONNECTION_HELP}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, {
      ...CONNECTION_FLAGS,
      json: { type: 'boolean' },
      yes: { type: 'boolean' },
    });
    const file = positionals[0];
    if (file === undefined) throw usageError('sweep submit: missing SPEC.yaml');
    const spec = await loadSweepSpec(file); // validate locally first: errors name the file and field
    await confirmSweepSize({
      file,
      size: sweepSize(expandSweep(spec)),
      yes: values.yes === true,
      stderr: io.stderr,
    });
    const client = new SweepClient(connectionFrom(values));
    try {
      const r = await client.submit(await readFile(file, 'utf8'), file);
      io.stdout.write(
        values.json
          ? JSON.stringify(r) + '\n'
          : `sweep ${r.sweep_id}: ${r.trials_added} trials added, ${r.trials_total} in all\n`,
      );
    } finally {
      client.close();
    }
  },
};
export default command;
