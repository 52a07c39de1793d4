// Sweep sizes that need a confirmation, and remaining-time text that is never NaN or Infinity.
import { describe, expect, it } from 'vitest';
import { confirmationReason, formatSeconds, remainingText, sweepSize } from '../../cli/sweep-size.js';
import { expandSweep, parseSweepYaml } from '../../spec/index.js';

describe('sweep size', () => {
  it('counts trials and trial-epochs, early stopping included', () => {
    const spec = parseSweepYaml(
      'name: s\nseeds: 3\nbase: { train: { epochs: 100 } }\naxes: { early_stop_epoch: [9, null] }',
    );
    expect(sweepSize(expandSweep(spec))).toEqual({ trials: 6, trialEpochs: 3 * 10 + 3 * 100 });
  });

  it('asks above 10 000 trials or 10 million trial-epochs, and says which', () => {
    expect(confirmationReason({ trials: 10_000, trialEpochs: 10_000_000 })).toBeUndefined();
    expect(confirmationReason({ trials: 10_001, trialEpochs: 5 })).toMatch(/10,001 trials/);
    expect(confirmationReason({ trials: 100_000, trialEpochs: 1e14 })).toMatch(
      /100,000 trials .* and 100,000,000,000,000 trial-epochs/,
    );
  });

  it('prints remaining time without NaN or Infinity', () => {
    expect(remainingText(0, 100, 0, 0)).toBe('estimating');
    expect(remainingText(0, 100, 0, 5000)).toBe('estimating');
    expect(remainingText(50, 100, 0, 10_000)).toBe('10s');
    expect(remainingText(100, 100, 0, 10_000)).toBe('0s');
    expect(remainingText(1, 1e15, 0, 1000)).toBe('more than 100 days');
    expect(formatSeconds(3725)).toBe('1h 02m');
    expect(formatSeconds(185)).toBe('3m 05s');
    expect(formatSeconds(90_000)).toBe('1d 01h');
    for (const [d, t, s, e] of [
      [0, 0, 0, 0],
      [5, 3, 5, 0],
      [Number.NaN, 10, 0, 1],
    ] as const)
      expect(remainingText(d, t, s, e)).not.toMatch(/NaN|Infinity/);
  });
});
