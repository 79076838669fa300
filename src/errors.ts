// Errors that cross a layer carry a stable code. The code decides the HTTP status, the metric
// label and the log field in one place (ERROR_TABLE), so no layer invents its own mapping.

export const ERROR_TABLE = {
  // control plane
  SLUICE_CONFIG_INVALID: { status: 500, kind: 'config' },
  SLUICE_CONFIG_READ: { status: 500, kind: 'config' },
  SLUICE_CERT_INVALID: { status: 500, kind: 'config' },
  // client side (HTTP codec)
  SLUICE_HTTP_BAD_REQUEST: { status: 400, kind: 'client' },
  SLUICE_HTTP_HEADERS_TIMEOUT: { status: 408, kind: 'client' },
  SLUICE_HTTP_BODY_TOO_LARGE: { status: 413, kind: 'client' },
  SLUICE_HTTP_URI_TOO_LONG: { status: 414, kind: 'client' },
  SLUICE_HTTP_HEADERS_TOO_LARGE: { status: 431, kind: 'client' },
  SLUICE_HTTP_NOT_IMPLEMENTED: { status: 501, kind: 'client' },
  SLUICE_HTTP_VERSION: { status: 505, kind: 'client' },
  // a response the gateway asked the HTTP/1 serializer to write would break framing (CR/LF/NUL)
  SLUICE_HTTP_RESPONSE_INVALID: { status: 500, kind: 'server' },
  SLUICE_CLIENT_ABORTED: { status: 499, kind: 'client' },
  // gateway
  SLUICE_ROUTE_NOT_FOUND: { status: 404, kind: 'route' },
  // upstream
  SLUICE_NO_ENDPOINT: { status: 503, kind: 'upstream' },
  SLUICE_UPSTREAM_REFUSED: { status: 502, kind: 'upstream' },
  SLUICE_UPSTREAM_RESET: { status: 502, kind: 'upstream' },
  SLUICE_UPSTREAM_PROTOCOL: { status: 502, kind: 'upstream' },
  SLUICE_UPSTREAM_CONNECT_TIMEOUT: { status: 504, kind: 'upstream' },
  SLUICE_UPSTREAM_TIMEOUT: { status: 504, kind: 'upstream' },
  // TLS and data path
  SLUICE_TLS_HANDSHAKE: { status: 0, kind: 'tls' },
  SLUICE_LISTEN: { status: 0, kind: 'io' },
  SLUICE_IO: { status: 0, kind: 'io' },
  // packet I/O (src/io/, native/)
  SLUICE_TAP_OPEN: { status: 0, kind: 'io' },
  SLUICE_TAP_IO: { status: 0, kind: 'io' },
  SLUICE_PORT_CONFIG: { status: 0, kind: 'io' },
  SLUICE_NATIVE_MISSING: { status: 0, kind: 'io' },
  // XDP packet filter (native/src/xdp.cc, src/io/xdp.ts): load, attach, map update, unavailable
  SLUICE_XDP: { status: 0, kind: 'io' },
  // DPDK (native/src/dpdk.cc): EAL init/cleanup, port setup and I/O, mbuf pools; also a backend
  // this build or machine lacks (detail says what is missing and how to get it).
  SLUICE_DPDK_EAL: { status: 0, kind: 'io' },
  SLUICE_DPDK_PORT: { status: 0, kind: 'io' },
  SLUICE_DPDK_MEMPOOL: { status: 0, kind: 'io' },
  // rte_flow (native/src/flow.cc): the PMD refused to validate, create, query or destroy a flow
  // rule of the packet filter; detail has the function, errno, rte_strerror and rte_flow_error
  // (type and the PMD's message).
  SLUICE_DPDK_FLOW: { status: 0, kind: 'io' },
  SLUICE_DPDK_UNAVAILABLE: { status: 0, kind: 'io' },
} as const;

export type ErrorCode = keyof typeof ERROR_TABLE;

export class SluiceError extends Error {
  readonly code: ErrorCode;
  /** Extra structured detail for logs (field path, rule, errno, ...). */
  readonly detail: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, detail: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SluiceError';
    this.code = code;
    this.detail = detail;
  }

  get status(): number {
    return ERROR_TABLE[this.code].status;
  }

  /** Short label for metrics and access logs: the code without the prefix, lowercased. */
  get reason(): string {
    return reasonOf(this.code);
  }
}

export function reasonOf(code: ErrorCode): string {
  return code.slice('SLUICE_'.length).toLowerCase();
}

export function statusOf(code: ErrorCode): number {
  return ERROR_TABLE[code].status;
}

export function isSluiceError(e: unknown): e is SluiceError {
  return e instanceof SluiceError;
}
