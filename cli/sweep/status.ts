import { intFlag, parseFlags, usageError, type Command } from '../command.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom } from '../connection-flags.js';
import { SweepClient } from '../grpc-client.js';
import { renderStatus } from './render.js';

const command: Command = {
  help: `Usage: phasesweep sweep status SWEEP [--json] [--wait [--timeout-s N]] [connection flags]

Prints a sweep's trials and their states. --wait polls until the sweep is finished
(exit 1 if a trial failed or the timeout passed).
${CONNECTION_HELP}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, {
      ...CONNECTION_FLAGS,
      json: { type: 'boolean' },
      wait: { type: 'boolean' },
      'timeout-s': { type: 'string' },
    });
    const sweepId = positionals[0];
    if (sweepId === undefined) throw usageError('sweep status: missing SWEEP');
    const client = new SweepClient(connectionFrom(values));
    try {
      const deadline = Date.now() + intFlag('timeout-s', values['timeout-s'], 3600, 1) * 1000;
      let s = await client.get(sweepId);
      while (values.wait && s.state === 'running' && Date.now() < deadline && !io.signal.aborted) {
        await new Promise((r) => setTimeout(r, 500));
        s = await client.get(sweepId);
      }
      io.stdout.write(values.json ? JSON.stringify(s) + '\n' : renderStatus(s));
      return s.state === 'failed' || (values.wait && s.state === 'running') ? 1 : 0;
    } finally {
      client.close();
    }
  },
};
export default command;
