// Number and level formatting shared by the Markdown and HTML reports.
import type { AxisValue } from '../trials.js';

export function fmtNum(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(digits)));
}

/** p-values: three significant digits, with the α flag. */
export function fmtP(p: number | null | undefined, alpha?: number): string {
  if (p === null || p === undefined) return '—';
  const s = p < 1e-4 ? p.toExponential(2) : String(Number(p.toPrecision(3)));
  return alpha !== undefined && p < alpha ? `${s} *` : s;
}

export function fmtLevel(v: AxisValue): string {
  return v === null ? '(none)' : String(v);
}

export function fmtStratum(s: Record<string, AxisValue>): string {
  const parts = Object.entries(s).map(([k, v]) => `${k}=${fmtLevel(v)}`);
  return parts.length ? parts.join(', ') : 'all trials';
}

export function fmtCi(ci: readonly [number | null, number | null] | null): string {
  if (!ci) return '';
  return ` [${ci[0] === null ? '—' : fmtNum(ci[0])}, ${ci[1] === null ? '—' : fmtNum(ci[1])}]`;
}
