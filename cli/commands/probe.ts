// `phasesweep probe`: the matrix probes of given embeddings, for checking the probe math
// against other implementations (the fixtures, numpy). Stable machine-readable output.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { SpecError } from '../../spec/index.js';
import { computeMatrixProbes } from '../../worker/probes/index.js';
import { parseFlags, usageError, type Command } from '../command.js';

const Matrix = z.array(z.array(z.number()));
const Input = z.object({
  cases: z.array(
    z
      .object({
        W_prev: Matrix,
        W: Matrix,
        G: Matrix,
        clusters: z.array(z.number().int()).optional(),
      })
      .loose(),
  ),
});

const command: Command = {
  help: `Usage: phasesweep probe --input FILE [--json]

Computes the embedding-matrix probes (SCIENCE.md) of each case in FILE:
  {"cases":[{"W_prev":[[…]],"W":[[…]],"G":[[…]],"clusters":[…]?}]}   (matrices as row lists)
and prints {"cases":[{emb_norm, drift, rel_drift, stability, mean_pairwise_cos, top5_sv_share,
eff_rank, spectral_entropy, stable_rank, grad_norm, grad_drift_ratio, cka_prev,
cluster_purity (with clusters), singular_values}]}. Values that are undefined are null.
  --input  the JSON file
  --json   print JSON (the default; a table otherwise is not offered, so this is accepted for scripts)`,
  async run(argv, io) {
    const { values } = parseFlags(
      argv,
      { input: { type: 'string' }, json: { type: 'boolean', default: true } },
      false,
    );
    if (values.input === undefined) throw usageError('--input FILE is required');
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(values.input, 'utf8'));
    } catch (err) {
      throw new SpecError(values.input, [
        { path: '', message: `cannot read JSON: ${(err as Error).message}` },
      ]);
    }
    const parsed = Input.safeParse(doc);
    if (!parsed.success) {
      throw new SpecError(
        values.input,
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    }
    const cases = parsed.data.cases.map((c, i) => {
      try {
        const r = computeMatrixProbes({ W_prev: c.W_prev, W: c.W, G: c.G, clusters: c.clusters });
        return { ...r.probes, singular_values: r.singularValues };
      } catch (err) {
        throw new SpecError(values.input!, [{ path: `cases.${i}`, message: (err as Error).message }]);
      }
    });
    io.stdout.write(`${JSON.stringify({ cases })}\n`);
  },
};
export default command;
