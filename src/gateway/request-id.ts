import { randomUUID } from 'node:crypto';

// An incoming x-request-id is passed on only when it is short and plain, so a client cannot
// inject log or header syntax through it.
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(incoming: string | undefined): string {
  if (incoming !== undefined && SAFE_ID.test(incoming)) return incoming;
  return randomUUID();
}
