// Reads the `analyze --input` CSV contract: trial_id, seed, epoch, one `axis.<name>` column per
// sweep axis, and probe columns by name: the probes, and any other numeric column as a user
// scalar (perplexity, attn_entropy, …). Errors name the file, line, column and value.
import { PhasesweepError } from '../spec/errors.js';
import { PROBE_NAMES } from '../spec/probes.js';
import type { AnalysisRow, AxisValue } from './trials.js';

export interface CsvRead {
  rows: AnalysisRow[];
  /** Columns that are neither required, axes, probes nor numeric (user scalars): ignored. */
  ignoredColumns: string[];
}

/** RFC 4180 records with the line each starts on (quoted fields may span lines). */
function* records(text: string): Generator<{ line: number; fields: string[] }> {
  let line = 1;
  let start = 1;
  let field = '';
  let fields: string[] = [];
  let quoted = false;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      if (!(fields.length === 1 && fields[0] === '')) yield { line: start, fields };
      fields = [];
      field = '';
      start = ++line;
    } else field += ch;
  }
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    yield { line: start, fields };
  }
}

const NON_FINITE = new Set([
  'nan',
  '+nan',
  '-nan',
  'inf',
  '+inf',
  '-inf',
  'infinity',
  '+infinity',
  '-infinity',
]);

/** An axis cell: empty → null, true/false → boolean, a number → number, else the string. */
export function parseAxisValue(s: string): AxisValue {
  const t = s.trim();
  if (t === '') return null;
  if (t === 'true' || t === 'True') return true;
  if (t === 'false' || t === 'False') return false;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

export function parseCsv(text: string, file: string): CsvRead {
  const it = records(text);
  const first = it.next();
  if (first.done)
    throw new PhasesweepError('INVALID_ARGUMENT', `${file}: empty file, expected a header line`);
  const header = first.value.fields.map((h) => h.trim());
  const fail = (line: number, msg: string) =>
    new PhasesweepError('INVALID_ARGUMENT', `${file}:${line}: ${msg}`);
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw fail(1, `missing column "${name}" (header: ${header.join(',')})`);
    return i;
  };
  const iTrial = col('trial_id');
  const iSeed = col('seed');
  const iEpoch = col('epoch');
  const known = new Set<string>(PROBE_NAMES);
  const axes: [string, number][] = [];
  const probes: [string, number][] = [];
  /** Other columns: user scalars if every cell is a number or missing, else ignored. */
  const others: { name: string; at: number; numeric: boolean }[] = [];
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (seen.has(h)) throw fail(1, `column "${h}" appears twice`);
    seen.add(h);
    if (i === iTrial || i === iSeed || i === iEpoch) return;
    if (h.startsWith('axis.') && h.length > 5) axes.push([h.slice(5), i]);
    else if (known.has(h)) probes.push([h, i]);
    else if (h !== '' && h !== '__proto__') others.push({ name: h, at: i, numeric: true });
    else others.push({ name: h, at: i, numeric: false });
  });
  const rows: AnalysisRow[] = [];
  /** Cells of the other columns, by row: a number, null (missing), or undefined (not a number). */
  const otherCells: (number | null | undefined)[][] = [];
  for (const { line, fields } of it) {
    if (fields.length !== header.length) {
      throw fail(line, `expected ${header.length} fields, found ${fields.length}`);
    }
    const cell = (i: number) => fields[i]!.trim();
    const integer = (i: number, min: number) => {
      const v = cell(i);
      const n = Number(v);
      if (v === '' || !Number.isInteger(n) || n < min) {
        throw fail(line, `column "${header[i]}": invalid value "${v}" (expected an integer ≥ ${min})`);
      }
      return n;
    };
    const trialId = cell(iTrial);
    if (trialId === '') throw fail(line, `column "trial_id": empty value`);
    const row: AnalysisRow = {
      trial_id: trialId,
      seed: integer(iSeed, Number.MIN_SAFE_INTEGER),
      epoch: integer(iEpoch, 0),
      axes: {},
      probes: {},
    };
    for (const [name, i] of axes) row.axes[name] = parseAxisValue(fields[i]!);
    for (const [name, i] of probes) {
      const v = cell(i);
      if (v === '' || NON_FINITE.has(v.toLowerCase())) {
        // Empty and non-finite values are missing (grad_drift_ratio's ∞ is reported as null).
        row.probes[name] = null;
        continue;
      }
      const n = Number(v);
      if (Number.isNaN(n)) throw fail(line, `column "${name}": invalid value "${v}" (expected a number)`);
      row.probes[name] = n;
    }
    const cells: (number | null | undefined)[] = [];
    for (const o of others) {
      if (!o.numeric) {
        cells.push(undefined);
        continue;
      }
      const c = numberCell(cell(o.at));
      if (c === undefined) o.numeric = false;
      cells.push(c);
    }
    otherCells.push(cells);
    rows.push(row);
  }
  others.forEach((o, k) => {
    if (!o.numeric) return;
    rows.forEach((row, r) => (row.probes[o.name] = otherCells[r]![k] ?? null));
  });
  return { rows, ignoredColumns: others.filter((o) => !o.numeric).map((o) => o.name) };
}

/** A probe cell: a number, null when empty or not finite, undefined when not a number at all. */
function numberCell(v: string): number | null | undefined {
  if (v === '' || NON_FINITE.has(v.toLowerCase())) return null;
  const n = Number(v);
  return Number.isNaN(n) ? undefined : n;
}
