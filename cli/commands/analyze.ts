// `phasesweep analyze`: phase events, segmentation and timing statistics of a sweep's probe
// series, as Markdown (default), the stable JSON interface of SCIENCE.md, or an HTML report.
import { readFile, writeFile } from 'node:fs/promises';
import { PhasesweepError } from '../../spec/errors.js';
import { analyseSeries, buildTrials, parseAnalysisSpec, resolveAnalysisSpec } from '../../analysis/index.js';
import { loadRows, type RowSource } from '../../analysis/source.js';
import { renderMarkdown } from '../../analysis/report/markdown.js';
import { renderHtml } from '../../analysis/report/html.js';
import { parseFlags, usageError, type Command } from '../command.js';

const command: Command = {
  help: `Usage: phasesweep analyze --input FILE.csv [--json | --markdown | --html REPORT.html] [--spec ANALYSIS.yaml]

Finds each trial's phase events (threshold events with right-censoring) and its three-phase
segmentation of log(rel_drift), then tests whether event timing depends on each sweep axis
(one family per event × axis × combination of the other axes). See SCIENCE.md.

Input CSV: one row per (trial, epoch) with columns trial_id, seed, epoch, axis.<name> for each
sweep axis, and probe columns by name (loss, rel_drift, val_acc, …). Events whose probes are
missing are skipped.

  --input FILE     the CSV file
  --json           print {"trials":[…],"families":[…]} (stable interface)
  --markdown       print a Markdown report (the default)
  --html FILE      write a self-contained HTML report with SVG plots to FILE
  --spec FILE      analysis spec (YAML): events, criteria, thresholds, window, family axes,
                   alpha, confidence, bootstrap resamples and seed, segmentation
Exit codes: 0 ok, 1 failure, 2 usage or invalid input.`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, {
      input: { type: 'string' },
      json: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
      html: { type: 'string' },
      spec: { type: 'string' },
    });
    if (positionals.length > 0) {
      throw usageError(
        `reading sweep "${positionals[0]}" from the stores is not available yet: export its events to CSV and use --input`,
      );
    }
    if (values.input === undefined) throw usageError('--input FILE.csv is required');
    const modes = [values.json, values.markdown, values.html !== undefined].filter(Boolean).length;
    if (modes > 1) throw usageError('choose one of --json, --markdown and --html');

    let spec = resolveAnalysisSpec();
    if (values.spec !== undefined) {
      let text: string;
      try {
        text = await readFile(values.spec, 'utf8');
      } catch (err) {
        throw new PhasesweepError('NOT_FOUND', `${values.spec}: cannot read: ${(err as Error).message}`, {
          cause: err,
        });
      }
      spec = parseAnalysisSpec(text, values.spec);
    }
    const source: RowSource = { kind: 'csv', path: values.input };
    const { rows, warnings } = await loadRows(source);
    for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
    const trials = buildTrials(rows);
    const result = analyseSeries(trials, spec);

    if (values.json) {
      io.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
    } else if (values.html !== undefined) {
      await writeFile(
        values.html,
        renderHtml(result, trials, { alpha: spec.alpha, confidence: spec.confidence }),
      );
      io.stdout.write(`wrote ${values.html}\n`);
    } else {
      io.stdout.write(renderMarkdown(result, { alpha: spec.alpha, confidence: spec.confidence }));
    }
    return 0;
  },
};

export default command;
