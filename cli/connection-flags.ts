// Flags every command that talks to a coordinator shares: address, bearer token, TLS CA.
import { readFileSync } from 'node:fs';
import { PhasesweepError } from '../spec/index.js';

export const CONNECTION_FLAGS = {
  coordinator: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-ca': { type: 'string' },
} as const;

export const CONNECTION_HELP = `  --coordinator HOST:PORT  coordinator address (default $PHASESWEEP_COORDINATOR or 127.0.0.1:7070)
  --token-file FILE        bearer token (default $PHASESWEEP_TOKEN)
  --tls-ca FILE            CA certificate (PEM) of a TLS coordinator`;

export interface Connection {
  address: string;
  token: string | undefined;
  tlsCa: Buffer | undefined;
}

function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new PhasesweepError(
      'INVALID_ARGUMENT',
      `--${flag}: cannot read ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export function tokenFrom(file: string | undefined): string | undefined {
  if (file !== undefined) return readFlagFile('token-file', file).toString('utf8').trim();
  const env = process.env['PHASESWEEP_TOKEN'];
  return env === undefined || env === '' ? undefined : env;
}

export function connectionFrom(values: {
  coordinator?: string;
  'token-file'?: string;
  'tls-ca'?: string;
}): Connection {
  return {
    address: values.coordinator ?? process.env['PHASESWEEP_COORDINATOR'] ?? '127.0.0.1:7070',
    token: tokenFrom(values['token-file']),
    tlsCa: values['tls-ca'] === undefined ? undefined : readFlagFile('tls-ca', values['tls-ca']),
  };
}

export function readPem(flag: string, file: string): Buffer {
  return readFlagFile(flag, file);
}
