// `phasesweep analyze`: phase events, segmentation and timing statistics of a sweep's probe
// series, as Markdown (default), the stable JSON interface of SCIENCE.md, or an HTML report.
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PhasesweepError } from '../../spec/errors.js';
import { analyseSeries, buildTrials, parseAnalysisSpec, resolveAnalysisSpec } from '../../analysis/index.js';
import { loadRows, type RowSource } from '../../analysis/source.js';
import { renderMarkdown } from '../../analysis/report/markdown.js';
import { renderHtml } from '../../analysis/report/html.js';
import { parseFlags, usageError, type Command } from '../command.js';

const command: Command = {
  help: `Usage: phasesweep analyze SWEEP [--store FILE | --clickhouse URL --database DB] [OUTPUT] [--spec ANALYSIS.yaml]
       phasesweep analyze --input FILE.csv|FILE.parquet [OUTPUT] [--spec ANALYSIS.yaml]

Finds each trial's phase events (threshold events with right-censoring) and its three-phase
segmentation of log(rel_drift), then tests whether event timing depends on each sweep axis
(one family per event × axis × combination of the other axes). See SCIENCE.md.

Where the probe events come from (the latest attempt of every trial and epoch):
  SWEEP            a sweep name; read from its embedded store, .phasesweep/SWEEP.duckdb,
                   unless --store or --clickhouse says otherwise
  --store FILE     the DuckDB event store \`phasesweep run\` wrote
  --clickhouse URL a cluster's ClickHouse (http://host:8123), with --database DB
  --input FILE     a CSV with one row per (trial, epoch): columns trial_id, seed, epoch,
                   axis.<name> for each sweep axis, and probe columns by name (loss,
                   rel_drift, val_acc, …, and any other numeric column as a user scalar,
                   perplexity say); or a Parquet file with the same columns, or the
                   probe_events.parquet \`phasesweep export\` wrote (axes from the
                   trials.parquet beside it; SWEEP picks one sweep when it holds several)
Events whose probes are missing are skipped.

OUTPUT (one of):
  --json           print {"trials":[…],"families":[…]} (stable interface)
  --markdown       print a Markdown report (the default)
  --html FILE      write a self-contained HTML report with SVG plots to FILE
  --spec FILE      analysis spec (YAML): events, criteria, thresholds, window, family axes,
                   alpha, confidence, bootstrap resamples and seed, segmentation
Exit codes: 0 ok, 1 failure, 2 usage, invalid input, missing store or unknown sweep,
3 ClickHouse unreachable.`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, {
      input: { type: 'string' },
      store: { type: 'string' },
      clickhouse: { type: 'string' },
      database: { type: 'string' },
      json: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
      html: { type: 'string' },
      spec: { type: 'string' },
    });
    if (positionals.length > 1) throw usageError(`expected at most one sweep, got ${positionals.join(' ')}`);
    const modes = [values.json, values.markdown, values.html !== undefined].filter(Boolean).length;
    if (modes > 1) throw usageError('choose one of --json, --markdown and --html');
    const source = await rowSource(positionals[0], values);

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

interface SourceFlags {
  input?: string | undefined;
  store?: string | undefined;
  clickhouse?: string | undefined;
  database?: string | undefined;
}

/** Parquet by its magic bytes, so a renamed file still reads; anything else is CSV. */
async function isParquet(path: string): Promise<boolean> {
  if (path.toLowerCase().endsWith('.parquet')) return true;
  const fh = await open(path, 'r').catch(() => undefined);
  if (fh === undefined) return false;
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.toString('latin1') === 'PAR1';
  } finally {
    await fh.close();
  }
}

async function rowSource(sweep: string | undefined, v: SourceFlags): Promise<RowSource> {
  const given = [v.input !== undefined, v.store !== undefined, v.clickhouse !== undefined].filter(Boolean);
  if (given.length > 1) throw usageError('choose one of --input, --store and --clickhouse');
  if (v.database !== undefined && v.clickhouse === undefined) {
    throw usageError('--database goes with --clickhouse URL');
  }
  if (v.input !== undefined) {
    if (await isParquet(v.input)) return { kind: 'parquet', path: v.input, ...(sweep ? { sweep } : {}) };
    if (sweep !== undefined) {
      throw usageError(`a CSV holds one sweep's rows: drop "${sweep}" or read the sweep from its store`);
    }
    return { kind: 'csv', path: v.input };
  }
  if (sweep === undefined) {
    throw usageError('name a SWEEP (read from its store or ClickHouse) or pass --input FILE');
  }
  if (v.clickhouse !== undefined) {
    if (v.database === undefined) throw usageError('--clickhouse needs --database DB');
    return { kind: 'clickhouse', url: v.clickhouse, database: v.database, sweep };
  }
  return { kind: 'duckdb', path: v.store ?? join('.phasesweep', `${sweep}.duckdb`), sweep };
}

export default command;
