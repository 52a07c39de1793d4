// Synthetic tasks, generated deterministically from the trial seed: token sequences, labels,
// a held-out split, and (for clustered tokens) the latent cluster of every token.
import type { TaskConfig } from '../../spec/index.js';
import { Rng } from './rng.js';

export interface Dataset {
  vocab: number;
  seqLen: number;
  classes: number;
  /** Row-major [nTrain, seqLen] token ids. */
  trainX: Int32Array;
  trainY: Int32Array;
  valX: Int32Array;
  valY: Int32Array;
  nTrain: number;
  nVal: number;
  /** Latent cluster of each token (clustered tasks only): what `cluster_purity` checks. */
  clusters: Int32Array | null;
}

/**
 * How strongly a sequence leans to one cluster: each token comes from the sequence's
 * dominant cluster with this probability, else uniformly from the vocabulary. Pure uniform
 * sequences make the majority label nearly random; this keeps it learnable and the latent
 * structure visible in the embedding.
 */
const DOMINANT_SHARE = 0.5;

/** Label: the most frequent cluster among the sequence's tokens, ties to the lowest id. */
export function majorityCluster(tokens: ArrayLike<number>, clusters: Int32Array, k: number): number {
  const counts = new Int32Array(k);
  for (let i = 0; i < tokens.length; i++) counts[clusters[tokens[i]!]!]!++;
  let best = 0;
  for (let c = 1; c < k; c++) if (counts[c]! > counts[best]!) best = c;
  return best;
}

function clusteredTokens(task: Extract<TaskConfig, { kind: 'clustered-tokens' }>, seed: number): Dataset {
  const rng = Rng.stream(seed, 'task');
  const { vocab: V, clusters: K, seq_len: L } = task;
  // Balanced clusters over a random permutation of the vocabulary.
  const perm = rng.shuffle(Int32Array.from({ length: V }, (_, i) => i));
  const clusters = new Int32Array(V);
  perm.forEach((tok, i) => (clusters[tok] = i % K));
  const members: number[][] = Array.from({ length: K }, () => []);
  for (let t = 0; t < V; t++) members[clusters[t]!]!.push(t);

  const draw = (n: number, noisy: boolean): { x: Int32Array; y: Int32Array } => {
    const x = new Int32Array(n * L);
    const y = new Int32Array(n);
    for (let s = 0; s < n; s++) {
      const dominant = members[rng.int(K)]!;
      for (let j = 0; j < L; j++) {
        x[s * L + j] = rng.uniform() < DOMINANT_SHARE ? dominant[rng.int(dominant.length)]! : rng.int(V);
      }
      let label = majorityCluster(x.subarray(s * L, (s + 1) * L), clusters, K);
      // Label noise corrupts training labels only; the held-out split measures the true rule.
      if (noisy && task.label_noise > 0 && rng.uniform() < task.label_noise) label = rng.int(K);
      y[s] = label;
    }
    return { x, y };
  };
  const train = draw(task.train_size, true);
  const val = draw(task.val_size, false);
  return {
    vocab: V,
    seqLen: L,
    classes: K,
    trainX: train.x,
    trainY: train.y,
    valX: val.x,
    valY: val.y,
    nTrain: task.train_size,
    nVal: task.val_size,
    clusters,
  };
}

function modularAddition(task: Extract<TaskConfig, { kind: 'modular-addition' }>, seed: number): Dataset {
  const rng = Rng.stream(seed, 'task');
  const p = task.modulus;
  const pairs = rng.shuffle(Int32Array.from({ length: p * p }, (_, i) => i));
  const nTrain = Math.min(p * p - 1, Math.max(1, Math.floor(task.train_fraction * p * p)));
  const nVal = p * p - nTrain;
  const build = (from: number, n: number): { x: Int32Array; y: Int32Array } => {
    const x = new Int32Array(n * 3);
    const y = new Int32Array(n);
    for (let s = 0; s < n; s++) {
      const pair = pairs[from + s]!;
      const a = Math.floor(pair / p);
      const b = pair % p;
      x.set([a, b, p], s * 3); // token p is "="
      y[s] = (a + b) % p;
    }
    return { x, y };
  };
  const train = build(0, nTrain);
  const val = build(nTrain, nVal);
  return {
    vocab: p + 1,
    seqLen: 3,
    classes: p,
    trainX: train.x,
    trainY: train.y,
    valX: val.x,
    valY: val.y,
    nTrain,
    nVal,
    clusters: null,
  };
}

export function generateTask(task: TaskConfig, seed: number): Dataset {
  switch (task.kind) {
    case 'clustered-tokens':
      return clusteredTokens(task, seed);
    case 'modular-addition':
      return modularAddition(task, seed);
  }
}
