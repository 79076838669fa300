// The request body handed to undici, one view per attempt over the client's body stream. The
// view pulls from the source only when undici reads, and records whether any byte was taken, so a
// retry knows whether the body can be sent again. Nothing is buffered beyond the two streams'
// own high-water marks: a body already read from the client is simply not replayable.
//
// Destroying a view (undici does so when an attempt fails) never destroys the source: the source
// belongs to the HTTP codec, which decides what to do with unread client bytes.

import { Readable } from 'node:stream';

export class ReplayableBody {
  #consumed = false;
  #ended = false;
  #listening = false;
  #view: BodyView | null = null;

  constructor(private readonly source: Readable) {}

  /** No byte has been taken from the source yet: a new attempt can send the whole body. */
  get replayable(): boolean {
    return !this.#consumed;
  }

  get consumed(): boolean {
    return this.#consumed;
  }

  /** A fresh view for the next attempt; the previous view (if any) stops receiving data. */
  open(): Readable {
    if (this.#view) this.#view.detached = true;
    const view = new BodyView(this);
    this.#view = view;
    return view;
  }

  /** Called by the current view's _read: move what the source has into the view. */
  pump(view: BodyView): void {
    if (view !== this.#view || view.detached) return;
    const errored = this.source.errored;
    if (errored) {
      view.destroy(errored);
      return;
    }
    if (this.#ended || this.source.readableEnded) {
      this.#ended = true;
      view.push(null);
      return;
    }
    this.#listen();
    const source = this.source;
    let chunk: unknown;
    while ((chunk = source.read()) !== null) {
      this.#consumed = true;
      if (!view.push(chunk)) return;
    }
    // Nothing buffered: 'readable' (more data or the end) calls back into pump.
    view.waiting = true;
  }

  detach(view: BodyView): void {
    view.detached = true;
    if (this.#view === view) this.#view = null;
  }

  /**
   * The request is over (answered or failed): stop watching the source, so its owner can drain
   * or discard what the client still sends ('readable' listeners would keep it from flowing).
   */
  release(): void {
    if (this.#view) this.#view.detached = true;
    this.#view = null;
    if (!this.#listening) return;
    this.#listening = false;
    this.source.off('readable', this.#onReadable);
    this.source.off('end', this.#onEnd);
    this.source.off('error', this.#onError);
  }

  #onReadable = (): void => {
    const view = this.#view;
    if (view && view.waiting && !view.detached) {
      view.waiting = false;
      this.pump(view);
    }
  };

  #onEnd = (): void => {
    this.#ended = true;
    const view = this.#view;
    if (view && !view.detached) view.push(null);
  };

  #onError = (err: Error): void => {
    const view = this.#view;
    if (view && !view.detached) view.destroy(err);
  };

  #listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    this.source.on('readable', this.#onReadable);
    this.source.on('end', this.#onEnd);
    this.source.on('error', this.#onError);
  }
}

class BodyView extends Readable {
  detached = false;
  waiting = false;

  constructor(private readonly owner: ReplayableBody) {
    super();
  }

  override _read(): void {
    this.owner.pump(this);
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.owner.detach(this);
    cb(err);
  }
}
