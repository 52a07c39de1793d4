// The timing statistics, each matching its scipy reference.
export { kruskal } from './kruskal.js';
export type { KruskalResult } from './kruskal.js';
export { jonckheere } from './jonckheere.js';
export type { JonckheereResult } from './jonckheere.js';
export { mannWhitney } from './mann-whitney.js';
export type { MannWhitneyResult } from './mann-whitney.js';
export { holm, benjaminiHochberg } from './multiple-testing.js';
export { spearman, cliffsDelta } from './correlation.js';
export type { SpearmanResult } from './correlation.js';
export { kaplanMeier } from './kaplan-meier.js';
export type { KaplanMeier } from './kaplan-meier.js';
export { logrank } from './logrank.js';
export type { LogrankResult, CensoredSample } from './logrank.js';
export { bootstrapMedianCi, createRng, hashSeed, median } from './bootstrap.js';
export type { Rng } from './bootstrap.js';
export { normalSf, chi2Sf, tTwoSided, normalQuantile } from './distributions.js';
