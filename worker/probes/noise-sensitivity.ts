// noise_sensitivity from the two pooled representations of the probe set: the mean over rows
// of ‖h(x+ε)_i − h(x)_i‖ / ‖h(x)_i‖. Pure Float64, for reported matrices (the built-in engine
// computes the same expression on its tensors in training/compute.ts).
import type { Dense } from './dense.js';

/**
 * The mean relative change of each row; NaN or ∞ when a clean row is zero, as on the tensors
 * (callers report non-finite probes as null).
 */
export function noiseSensitivityOf(noisy: Dense, clean: Dense): number {
  if (noisy.rows !== clean.rows || noisy.cols !== clean.cols)
    throw new RangeError(`noisy ${noisy.rows}×${noisy.cols} and clean ${clean.rows}×${clean.cols} differ`);
  const { rows, cols } = clean;
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    let diff = 0;
    let norm = 0;
    for (let j = 0; j < cols; j++) {
      const c = clean.data[r * cols + j]!;
      const d = noisy.data[r * cols + j]! - c;
      diff += d * d;
      norm += c * c;
    }
    sum += Math.sqrt(diff) / Math.sqrt(norm);
  }
  return sum / rows;
}
