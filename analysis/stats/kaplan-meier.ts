// Kaplan–Meier survival estimate for right-censored event times (scipy `ecdf` on
// `CensoredData`), its median, and a median confidence interval from the log-log Greenwood
// band (Brookmeyer–Crowley: the times where the band's limits cross 0.5).
import { normalQuantile } from './distributions.js';

export interface KaplanMeier {
  /** Unique times, censored ones included, ascending. */
  times: number[];
  survival: number[];
  atRisk: number[];
  deaths: number[];
  /** Pointwise log-log confidence band of the survival estimate. */
  lower: number[];
  upper: number[];
  /** First time with survival ≤ 0.5; null when it never gets there. */
  median: number | null;
  /** Confidence interval of the median; an end is null when the band never reaches 0.5. */
  medianCi: [number | null, number | null];
}

export function kaplanMeier(
  time: readonly number[],
  observed: readonly boolean[],
  confidence = 0.95,
): KaplanMeier {
  const order = time.map((_, i) => i).sort((a, b) => time[a]! - time[b]!);
  const n = order.length;
  const times: number[] = [];
  const atRisk: number[] = [];
  const deaths: number[] = [];
  for (let i = 0; i < n;) {
    const t = time[order[i]!]!;
    let d = 0;
    let j = i;
    while (j < n && time[order[j]!] === t) d += observed[order[j++]!] ? 1 : 0;
    times.push(t);
    atRisk.push(n - i);
    deaths.push(d);
    i = j;
  }
  const z = normalQuantile(0.5 + confidence / 2);
  const survival: number[] = [];
  const lower: number[] = [];
  const upper: number[] = [];
  let s = 1;
  let greenwood = 0;
  for (let k = 0; k < times.length; k++) {
    const nk = atRisk[k]!;
    const dk = deaths[k]!;
    s *= (nk - dk) / nk;
    greenwood += dk / (nk * (nk - dk));
    survival.push(s);
    if (s === 0) {
      lower.push(0);
      upper.push(0);
    } else if (s === 1) {
      // No event yet: the band is degenerate at 1 (log-log variance is undefined there).
      lower.push(1);
      upper.push(1);
    } else {
      const se = Math.sqrt(greenwood) / Math.abs(Math.log(s));
      const lnl = Math.log(-Math.log(s));
      lower.push(Math.exp(-Math.exp(lnl + z * se)));
      upper.push(Math.exp(-Math.exp(lnl - z * se)));
    }
  }
  const firstAtOrBelowHalf = (curve: number[]): number | null => {
    const k = curve.findIndex((v) => v <= 0.5);
    return k < 0 ? null : times[k]!;
  };
  return {
    times,
    survival,
    atRisk,
    deaths,
    lower,
    upper,
    median: firstAtOrBelowHalf(survival),
    // The lower band crosses 0.5 first: it bounds the median from below.
    medianCi: [firstAtOrBelowHalf(lower), firstAtOrBelowHalf(upper)],
  };
}
