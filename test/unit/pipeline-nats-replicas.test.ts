import { describe, expect, it } from 'vitest';
import { parseNatsReplicas } from '../../pipeline/nats-replicas.js';

describe('PHASESWEEP_NATS_REPLICAS', () => {
  it('defaults to one copy and accepts 1 to 5', () => {
    expect(parseNatsReplicas(undefined)).toBe(1);
    expect(parseNatsReplicas('3')).toBe(3);
  });

  it('names the variable and the value when it is wrong', () => {
    expect(() => parseNatsReplicas('three')).toThrow(
      'PHASESWEEP_NATS_REPLICAS: expected an integer from 1 to 5, got "three"',
    );
    expect(() => parseNatsReplicas('0')).toThrow(/got "0"/);
  });
});
