// Holds back an upstream socket's 'end' while the response on it is paused for backpressure.
//
// Why: undici 7's HTTP/1.1 client finishes a response that is not keep-alive (Connection: close,
// HTTP/1.0, a close-delimited body) from the socket's 'end' handler by calling its parser's
// finish(), which asserts that the parser is not paused (client-h1.js Parser.finish,
// undici issue #5360, fixed only in undici 8, which needs Node >= 22). The parser is paused
// exactly when our handler paused the request (the client reads slower than the upstream
// sends). When the upstream's FIN arrives with the last body bytes, Node emits 'end' as soon as
// the socket's buffer is drained into the paused parser, and the failed assertion is thrown
// from an event handler: the process dies.
//
// The fix keeps backpressure: while the attempt on this socket is paused, an 'end' is recorded
// instead of emitted; after the attempt resumes the parser (which re-reads whatever the socket
// still buffers) and has not paused again, the 'end' is delivered on the next tick, as Node
// itself would have delivered it. undici then finishes the parser normally: a complete body
// completes, a truncated Content-Length or chunked body fails as before. Nothing is buffered
// here: the bytes stay in the socket and the kernel, exactly as without the gate.
//
// A held 'end' keeps the socket half-open (Node would end our side right after 'end', and the
// resulting 'close' would reach the paused parser too); if the request is aborted instead of
// resumed, the socket is destroyed and the 'end' is dropped. The same finish() is reached from
// undici's 'error' handler on ECONNRESET; while paused that error is handed on as a plain socket
// error instead (see the constructor).

import type { Socket } from 'node:net';
import { errors } from 'undici';

type Emit = (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;

export class SocketEndGate {
  readonly #socket: Socket;
  readonly #emit: Emit;
  #paused = false;
  #held = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    const original = socket.emit as Emit;
    this.#emit = original;
    const gate = this;
    // An own property shadows EventEmitter.prototype.emit for this one socket only.
    const gated: Emit = function gatedEmit(event, ...args) {
      if (event === 'end' && gate.#paused) {
        gate.#held = true;
        // Node ends a non-half-open socket's writable side right after emitting 'end' (readable
        // endReadableNT), which then closes it, and undici's 'close' handler would call finish()
        // on the paused parser just the same. Half-open until the 'end' is delivered.
        this.allowHalfOpen = true;
        return true;
      }
      if (event === 'error' && gate.#paused && isReset(args[0])) {
        // Same assertion, other door: undici's 'error' handler finishes the parser of a
        // non-keep-alive response on ECONNRESET (a full body followed by a reset). A paused
        // parser cannot finish, and the socket is gone, so the bytes it still held are lost:
        // report the reset as the socket error it is; undici then fails the request.
        const reset = new errors.SocketError('upstream reset the connection (ECONNRESET) while the response was paused for a slow client');
        reset.cause = args[0];
        return original.call(this, 'error', reset);
      }
      return original.call(this, event, ...args);
    };
    socket.emit = gated as Socket['emit'];
  }

  /** Call right after pausing the undici controller of the request on this socket. */
  pause(): void {
    this.#paused = true;
  }

  /**
   * Resume: `resumeParser` is the controller's resume, which synchronously feeds the parser the
   * bytes the socket still holds and may pause it again (then the 'end' stays held).
   */
  resume(resumeParser: () => void): void {
    this.#paused = false;
    resumeParser();
    if (this.#held && !this.#paused) process.nextTick(() => this.#release());
  }

  #release(): void {
    if (!this.#held || this.#paused) return;
    this.#held = false;
    // Destroyed meanwhile (the request completed and undici closed the connection, or it was
    // aborted): its 'close' handling has taken over and an 'end' would only be noise.
    const socket = this.#socket;
    if (socket.destroyed) return;
    socket.allowHalfOpen = false;
    this.#emit.call(socket, 'end');
    // What Node would have done after the 'end' (undici normally destroys the socket in its
    // 'end' handler already; this covers any path where it does not).
    if (!socket.destroyed && !socket.writableEnded) socket.end();
  }
}

function isReset(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === 'ECONNRESET';
}
