// The one shape of a client connection, whichever data path carries it (kernel sockets, or
// Sluice's own TCP/IP stack over TAP or DPDK). The HTTP codecs consume only this.

export type TransportKind = 'kernel' | 'tap' | 'dpdk' | 'memory';

export interface TlsInfo {
  /** Server name the client asked for (SNI), or '' when it sent none. */
  readonly sni: string;
  /** Negotiated ALPN protocol ('http/1.1', 'h2'), or '' when none was negotiated. */
  readonly alpn: string;
  /** 'TLSv1.2' or 'TLSv1.3'. */
  readonly version: string;
  /** OpenSSL cipher name. */
  readonly cipher: string;
  readonly resumed: boolean;
}

export interface ConnectionInfo {
  readonly id: number;
  readonly transport: TransportKind;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Present when the bytes are TLS-terminated below the codec. */
  readonly tls: TlsInfo | null;
  /** Name of the listener (from config) that accepted the connection. */
  readonly listener: string;
}

/** Why a connection closed, for logs and metrics. */
export type CloseReason =
  | 'peer_closed'
  | 'peer_reset'
  | 'local_closed'
  | 'idle_timeout'
  | 'headers_timeout'
  | 'protocol_error'
  | 'draining'
  | 'error';

export interface ConnectionHandler {
  /** Bytes from the peer. The chunk is only valid during the call unless copied. */
  onData(chunk: Buffer): void;
  /** The peer half-closed (FIN / TLS close_notify). We may still write. */
  onEnd(): void;
  /** A write that returned false has been flushed; writing may continue. */
  onDrain(): void;
  /** The connection is gone; nothing more will be delivered. */
  onClose(reason: CloseReason, error?: Error): void;
}

export interface Connection {
  readonly info: ConnectionInfo;
  /** Attach the consumer. Data flows only after this is called (connections start paused). */
  setHandler(handler: ConnectionHandler): void;
  /** Queue bytes; false means the send buffer is above its mark: wait for onDrain. */
  write(chunk: Uint8Array): boolean;
  /** Stop delivering onData (receive backpressure); the window closes below us. */
  pause(): void;
  resume(): void;
  /** Half-close our direction after queued bytes are sent. */
  end(): void;
  /** Close at once, dropping queued bytes (RST on TCP). */
  destroy(reason: CloseReason, error?: Error): void;
  readonly destroyed: boolean;
  /** Bytes queued locally and not yet handed to the wire. */
  readonly writableLength: number;
}
