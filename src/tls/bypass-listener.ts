// A listener on the bypass path: TCP connections from Sluice's own stack (BypassStack), TLS
// terminated by the same TlsTerminator as the kernel path (Node's TLS over a TcpDuplex until the
// native engine arrives). The Connections it hands out are indistinguishable from the kernel
// path's to the codecs above, but for transport 'tap'.

import { SluiceError } from '../errors.js';
import type { CertStore } from './cert-store.js';
import { TerminatingListener, type TlsEvents, type TlsListenerOptions } from './terminator.js';
import type { Connection } from '../transport/connection.js';
import { TcpConnection, TcpDuplex } from '../transport/bypass.js';
import type { BypassStack } from '../transport/bypass-stack.js';
import type { TcpListener, TcpSocket } from '../net/tcp/socket.js';
import { formatIpv4 } from '../net/wire/ipv4.js';

export interface BypassListenerOptions {
  name: string;
  stack: BypassStack;
  port: number;
  tls: Partial<TlsListenerOptions> | null;
  certs: CertStore | null;
  events?: TlsEvents;
  onConnection: (conn: Connection) => void;
}

export class BypassListener extends TerminatingListener {
  private listener: TcpListener | null = null;

  constructor(private readonly opts: BypassListenerOptions) {
    super(opts.name, opts.tls, opts.certs, opts.events);
  }

  listen(): { address: string; port: number } {
    if (this.listener) throw new Error(`listener ${this.opts.name} already listening`);
    if (this.opts.port === 0) {
      throw new SluiceError('SLUICE_LISTEN', `listener ${this.opts.name}: a bypass listener needs a fixed port (0 picks one only on the kernel path)`, { listener: this.opts.name });
    }
    this.listener = this.opts.stack.listen(this.opts.port, (s) => this.accept(s));
    this.tls?.startTicketRotation();
    return { address: this.opts.stack.opts.address, port: this.opts.port };
  }

  /** Stops accepting; connections already accepted carry on. */
  async close(): Promise<void> {
    this.tls?.stopTicketRotation();
    if (this.listener) this.opts.stack.unlisten(this.listener);
    this.listener = null;
  }

  private accept(socket: TcpSocket): void {
    if (!this.tls) {
      this.opts.onConnection(new TcpConnection(socket, { listener: this.opts.name, transport: 'tap' }));
      return;
    }
    this.tls.accept(new TcpDuplex(socket), {
      transport: 'tap',
      remoteAddress: formatIpv4(socket.remoteIp),
      remotePort: socket.remotePort,
      localAddress: formatIpv4(socket.localIp),
      localPort: socket.localPort,
    }, (conn) => this.opts.onConnection(conn));
  }
}
