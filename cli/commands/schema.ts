import { sweepSpecJsonSchema } from '../../spec/json-schema.js';
import type { Command } from '../command.js';

const command: Command = {
  help: `Usage: phasesweep schema

Prints the JSON Schema of sweep specs (also in spec/sweep-spec.schema.json), for editors and
validators.`,
  run(_argv, io) {
    io.stdout.write(JSON.stringify(sweepSpecJsonSchema(), null, 2) + '\n');
    return Promise.resolve(0);
  },
};
export default command;
