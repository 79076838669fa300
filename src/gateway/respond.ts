// Responses the gateway makes itself: direct responses from routes and JSON error bodies.

import type { HttpExchange, HeaderList } from '../http/exchange.js';
import { type SluiceError, reasonOf } from '../errors.js';

/** The small JSON body every gateway-made error carries, so a client can quote the request id. */
export function errorBody(err: SluiceError, requestId: string): Buffer {
  return Buffer.from(JSON.stringify({ error: reasonOf(err.code), code: err.code, request_id: requestId, message: err.message }) + '\n');
}

export function sendBuffer(ex: HttpExchange, status: number, headers: HeaderList, body: Buffer): void {
  ex.respond({ status, headers, contentLength: body.length });
  if (body.length > 0 && ex.head.method !== 'HEAD') ex.write(body);
  ex.end();
}

export function sendError(ex: HttpExchange, err: SluiceError, requestId: string): void {
  if (ex.headersSent) {
    ex.abort(err);
    return;
  }
  const body = errorBody(err, requestId);
  sendBuffer(ex, err.status, ['content-type', 'application/json', 'x-request-id', requestId, 'cache-control', 'no-store'], body);
}
