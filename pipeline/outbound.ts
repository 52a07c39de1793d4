// What the publisher sends: one message per event by default, or several probe events of one
// trial packed into a ProbeEventBatch payload (opt-in, for high event rates; probe-packer.ts).

export interface OutboundMessage {
  subject: string;
  /** JetStream de-duplication id (Nats-Msg-Id). */
  msgId: string;
  data: Uint8Array;
  /** Events in the payload: 1 = a bare ProbeEvent/TrialEvent, more = a ProbeEventBatch. */
  count: number;
}

/** Header that marks a ProbeEventBatch payload: both encodings start with field 1, length-delimited. */
export const BATCH_HEADER = 'Phasesweep-Batch';
