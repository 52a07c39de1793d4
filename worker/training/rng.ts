// Seeded, serialisable randomness for everything a trial draws: data, initial weights, noise.
// tfjs random ops differ across backends, so every draw happens here in JS and is uploaded.

/** xoshiro128** state: four uint32 words, enough to resume a stream exactly. */
export type RngState = [number, number, number, number];

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** splitmix32: spreads a small seed over the 128-bit state (xoshiro must not start at zero). */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over the stream name, so each named stream of a seed is independent of the others. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const TWO_POW_32 = 4294967296;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(state: RngState) {
    [this.s0, this.s1, this.s2, this.s3] = state;
  }

  /**
   * A named stream of a seed. Separate streams (data, init, noise…) keep one axis from
   * shifting another's draws: changing `noise` must not change the data set.
   */
  static stream(seed: number, name: string): Rng {
    const mix = splitmix32((seed >>> 0) ^ fnv1a(name));
    // A second round keyed by the high bits of large seeds keeps seeds ≥ 2^32 distinct too.
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    return new Rng([mix() ^ hi, mix(), mix(), mix() | 1]);
  }

  static fromState(state: RngState): Rng {
    return new Rng([...state]);
  }

  state(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** Next uint32. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 bits. */
  uniform(): number {
    const a = this.next() >>> 5;
    const b = this.next() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller, the spare discarded so the state stays four words). */
  normal(): number {
    const u = (this.next() + 0.5) / TWO_POW_32;
    const v = this.next() / TWO_POW_32;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with N(0, std²) draws, two per Box–Muller pair (the bulk path: noise tensors). */
  fillNormal(out: Float32Array, std: number): Float32Array {
    const n = out.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const u = (this.next() + 0.5) / TWO_POW_32;
      const v = this.next() / TWO_POW_32;
      const r = std * Math.sqrt(-2 * Math.log(u));
      const a = 2 * Math.PI * v;
      out[i] = r * Math.cos(a);
      out[i + 1] = r * Math.sin(a);
    }
    if (i < n) out[i] = std * this.normal();
    return out;
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = tmp;
    }
    return arr;
  }
}
