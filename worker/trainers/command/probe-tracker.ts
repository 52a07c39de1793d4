// The probes of a command trainer's reports, computed by the worker with the built-in engine's
// probe code, and what they carry from one report to the next: W_prev (the last embedding as
// received), the cluster labels and every matrix's shape. Pure; its state goes into the
// worker's checkpoint so a resumed attempt computes the same probes as an uninterrupted one.
import type { ProbeValues } from '../../../spec/index.js';
import {
  computeMatrixProbes,
  frobenius,
  noiseSensitivityOf,
  toDense,
  type MatrixProbeMemo,
} from '../../probes/index.js';
import { PROBE_MATRICES, type EpochReport, type Matrix, type ProbeMatrix } from './epoch-report.js';
import { ProtocolViolation } from './protocol-violation.js';

export interface ProbeState {
  /** The last report's embedding, as received: W_prev of the next report. */
  wPrev: Matrix | null;
  /** The latent cluster of each embedding row, for cluster_purity. */
  clusters: number[] | null;
  /** The shape of every probe matrix reported so far. */
  shapes: Partial<Record<ProbeMatrix, [number, number]>>;
}

export interface EpochProbes {
  probes: ProbeValues;
  /** User scalars, finite values only. */
  scalars: Record<string, number>;
}

/** Probes that compare W_t with W_{t−1}: undefined without a W_prev. */
const NEEDS_PREV = ['drift', 'rel_drift', 'stability', 'cka_prev', 'grad_drift_ratio'] as const;

const ratio = (a: number, b: number): number | null => (b > 0 && Number.isFinite(a / b) ? a / b : null);

export class ProbeTracker {
  private wPrev: Matrix | null;
  private clusters: number[] | null;
  private readonly shapes: Partial<Record<ProbeMatrix, [number, number]>>;
  private memo: MatrixProbeMemo | null = null;
  /** No report of this attempt yet: its first report's clusters replace a checkpoint's. */
  private first = true;

  constructor(state?: ProbeState) {
    this.wPrev = state?.wPrev ?? null;
    this.clusters = state?.clusters ?? null;
    this.shapes = { ...(state?.shapes ?? {}) };
  }

  /**
   * Checks a report against the earlier ones and remembers it; computes its probes when
   * `compute` (an epoch with an event), else returns none.
   */
  /** The checks `observe` makes of a report, without computing or remembering anything. */
  check(r: EpochReport): void {
    for (const name of PROBE_MATRICES) {
      const m = r.matrices[name];
      const before = this.shapes[name];
      if (m !== undefined && before !== undefined && (before[0] !== m.rows || before[1] !== m.cols))
        throw new ProtocolViolation(
          `matrices.${name}.shape`,
          `[${m.rows}, ${m.cols}], but earlier reports sent [${before[0]}, ${before[1]}]`,
        );
    }
    const clusters = this.first && r.clusters !== null ? r.clusters : this.clusters;
    const embedding = r.matrices.embedding;
    if (embedding !== undefined && clusters !== null && clusters.length !== embedding.rows)
      throw new ProtocolViolation(
        'clusters',
        `${clusters.length} labels for an embedding of ${embedding.rows} rows`,
      );
  }

  observe(r: EpochReport, compute: boolean): EpochProbes {
    this.check(r);
    if (this.first && r.clusters !== null) this.clusters = r.clusters;
    this.first = false;
    const embedding = r.matrices.embedding;
    const out = compute ? this.probesOf(r) : { probes: {}, scalars: {} };
    for (const name of PROBE_MATRICES) {
      const m = r.matrices[name];
      if (m !== undefined) this.shapes[name] = [m.rows, m.cols];
    }
    // A report without the embedding leaves the next one without W_prev, rather than with an
    // older W that would make its drift span two steps.
    this.wPrev = embedding ?? null;
    return out;
  }

  /** What a checkpoint after the last observed report must hold to resume these probes. */
  state(): ProbeState {
    return { wPrev: this.wPrev, clusters: this.clusters, shapes: { ...this.shapes } };
  }

  private probesOf(r: EpochReport): EpochProbes {
    const probes: ProbeValues = { ...r.probes };
    const { embedding: w, embedding_grad: g, embedding_init: init } = r.matrices;
    if (w !== undefined) {
      const prev = this.wPrev ?? init ?? null;
      const { probes: m, memo } = computeMatrixProbes({
        W_prev: (prev ?? w).data,
        W: w.data,
        G: g?.data ?? new Float64Array(w.data.length),
        clusters: this.clusters,
        cols: w.cols,
        memo: this.memo,
      });
      this.memo = memo;
      if (g === undefined) {
        // grad_norm comes from the scalars, or not at all.
        delete m.grad_norm;
        const gn = probes.grad_norm;
        m.grad_drift_ratio =
          typeof gn === 'number' && typeof m.drift === 'number' ? ratio(gn, m.drift) : null;
      }
      if (prev === null) for (const name of NEEDS_PREV) m[name] = null;
      Object.assign(probes, m);
    } else if (g !== undefined) {
      probes.grad_norm = frobenius(Float64Array.from(g.data));
    }
    const { probe_clean: clean, probe_noisy: noisy } = r.matrices;
    if (clean !== undefined && noisy !== undefined) {
      const ns = noiseSensitivityOf(toDense(noisy.data, noisy.cols), toDense(clean.data, clean.cols));
      probes.noise_sensitivity = Number.isFinite(ns) ? ns : null;
    }
    for (const [k, v] of Object.entries(probes)) {
      if (typeof v === 'number' && !Number.isFinite(v)) probes[k as keyof ProbeValues] = null;
    }
    return { probes, scalars: { ...r.scalars } };
  }
}
