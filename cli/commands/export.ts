// `phasesweep export`: writes the embedded store's tables as Parquet files.
import { existsSync } from 'node:fs';
import { openDuckDbStore } from '../../pipeline/index.js';
import { parseFlags, usageError, type Command } from '../command.js';

const command: Command = {
  help: `Usage: phasesweep export --store FILE --parquet DIR [--sweep ID]

Writes probe_events.parquet (the latest attempt of every (trial, epoch)) and trials.parquet
(the latest state of every trial) from a single-machine event store into DIR.
  --store    the DuckDB event store written by \`phasesweep run\`
  --parquet  output directory (created if missing; files are overwritten)
  --sweep    only this sweep (default: every sweep in the store)`,
  async run(argv, io) {
    const { values } = parseFlags(
      argv,
      { store: { type: 'string' }, parquet: { type: 'string' }, sweep: { type: 'string' } },
      false,
    );
    if (values.store === undefined) throw usageError('--store is required');
    if (values.parquet === undefined) throw usageError('--parquet is required');
    // Opening a missing path would create an empty store and export nothing, silently.
    if (!existsSync(values.store)) throw usageError(`--store: ${values.store} does not exist`);
    const store = await openDuckDbStore(values.store);
    try {
      const counts = await store.exportParquet(values.parquet, values.sweep);
      io.stdout.write(
        `${JSON.stringify({ dir: values.parquet, probe_rows: counts.probeRows, trials: counts.trials })}\n`,
      );
    } finally {
      await store.close();
    }
  },
};
export default command;
