// Family-wise (Holm) and false-discovery-rate (Benjamini–Hochberg) adjustments, returned in
// input order; ties keep input order so the results are deterministic.

/** Holm step-down adjusted p-values (statsmodels `multipletests(method='holm')`). */
export function holm(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((_, i) => i).sort((a, b) => ps[a]! - ps[b]! || a - b);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach((idx, rankIdx) => {
    running = Math.max(running, Math.min(1, (m - rankIdx) * ps[idx]!));
    out[idx] = running;
  });
  return out;
}

/** Benjamini–Hochberg adjusted p-values (scipy `false_discovery_control(method='bh')`). */
export function benjaminiHochberg(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((_, i) => i).sort((a, b) => ps[a]! - ps[b]! || a - b);
  const out = new Array<number>(m);
  let running = Infinity;
  for (let k = m - 1; k >= 0; k--) {
    const idx = order[k]!;
    running = Math.min(running, (ps[idx]! * m) / (k + 1));
    out[idx] = Math.min(1, running);
  }
  return out;
}
