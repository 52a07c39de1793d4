// Bearer-token authentication for workers and the CLI: the token travels in the
// `authorization` metadata and is compared in constant time.
import type { Metadata } from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** A checker for one expected token; undefined token: authentication is off. */
export function createAuthCheck(token: string | undefined): (metadata: Metadata) => boolean {
  if (token === undefined || token === '') return () => true;
  const expected = digest(`Bearer ${token}`);
  return (metadata) => {
    const got = metadata.get('authorization')[0];
    // Digests have equal length, so timingSafeEqual never throws and leaks nothing by length.
    return typeof got === 'string' && timingSafeEqual(digest(got), expected);
  };
}
