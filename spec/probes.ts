// The probe vocabulary of SCIENCE.md: every name a worker may emit for an epoch.
// The same names are the ProbeEvent fields, the store columns and the CSV headers.

export const PROBE_NAMES = [
  'loss',
  'train_acc',
  'val_loss',
  'val_acc',
  'grad_norm',
  'grad_norm_total',
  'emb_norm',
  'drift',
  'rel_drift',
  'stability',
  'mean_pairwise_cos',
  'top5_sv_share',
  'eff_rank',
  'spectral_entropy',
  'stable_rank',
  'grad_drift_ratio',
  'cka_prev',
  'noise_sensitivity',
  'cluster_purity',
] as const;

export type ProbeName = (typeof PROBE_NAMES)[number];

/** One epoch's probes; a probe not computed this epoch is absent, an undefined value is null. */
export type ProbeValues = Partial<Record<ProbeName, number | null>>;
