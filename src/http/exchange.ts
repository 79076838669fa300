// What an HTTP codec (src/http1/, later src/http2/) hands to the gateway for each request, and
// what the gateway uses to answer. The gateway never sees bytes, frames or which codec it is.

import type { Readable } from 'node:stream';
import type { ConnectionInfo } from '../transport/connection.js';
import type { SluiceError } from '../errors.js';

/** Header fields as a flat list [name0, value0, name1, value1, ...]; names are lowercase. */
export type HeaderList = string[];

export interface RequestHead {
  readonly method: string;
  /** The request-target exactly as received (origin-form, absolute-form, '*' or authority-form). */
  readonly target: string;
  /** Path component, always starting with '/' (or '*' for OPTIONS *), never containing '?'. */
  readonly path: string;
  /** Query without the leading '?'; '' when absent. */
  readonly query: string;
  /** host[:port], from the absolute-form target or the Host header (validated by the codec). */
  readonly authority: string;
  readonly scheme: 'http' | 'https';
  readonly version: '1.0' | '1.1' | '2';
  readonly headers: HeaderList;
  /** Declared body length; -1 when the length is not known in advance (chunked, h2 without it). */
  readonly contentLength: number;
  /** Whether a body follows the head (false for GET without framing headers). */
  readonly hasBody: boolean;
  /** The client sent Expect: 100-continue; the codec sends the interim response on first body read. */
  readonly expectContinue: boolean;
}

export interface ResponseHead {
  readonly status: number;
  readonly headers: HeaderList;
  /** Body length when known (sets Content-Length); -1 streams (chunked on HTTP/1.1). */
  readonly contentLength: number;
}

export interface HttpExchange {
  readonly head: RequestHead;
  readonly connection: ConnectionInfo;
  /** process.hrtime.bigint() when the request head was complete. */
  readonly startedAt: bigint;
  /**
   * Request body, streamed with backpressure (reading pulls from the connection), or null when
   * the request has none. Errors with a SluiceError when the client breaks framing or limits.
   */
  readonly body: Readable | null;
  /** Send the response head. Must be called once, before write/end. */
  respond(head: ResponseHead): void;
  /** Send a body chunk; false means wait for the 'drain' callback before writing more. */
  write(chunk: Uint8Array): boolean;
  /** Finish the response, with optional trailers (sent only where the framing allows them). */
  end(trailers?: HeaderList): void;
  /**
   * Abandon the exchange: if no head was sent, a codec-made error response for `error` is sent;
   * otherwise the stream is reset (HTTP/1.1: the connection is closed).
   */
  abort(error: SluiceError): void;
  /** Called when the response can take more bytes after write() returned false. */
  onDrain(cb: () => void): void;
  /** Called once if the client goes away before end(); the gateway stops upstream work. */
  onAbort(cb: (reason: string) => void): void;
  readonly headersSent: boolean;
  /** Status of the response head sent (0 until respond() is called). */
  readonly statusSent: number;
  readonly finished: boolean;
  /** Request bytes read from the client for this exchange (head + body). */
  readonly bytesIn: number;
  /** Response bytes written to the client for this exchange (head + body). */
  readonly bytesOut: number;
}

/** The gateway side of a codec: one call per request, in arrival order. */
export interface ExchangeHandler {
  handle(exchange: HttpExchange): void;
}

/** Look up the first value of a header in a HeaderList (name must be lowercase). */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) return headers[i + 1];
  }
  return undefined;
}
