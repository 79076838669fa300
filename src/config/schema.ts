// The schema of sluice.yaml: the single source of truth for the config's shape (STYLE 7).
// Validation (ajv), editor support (config/schema.json, written by gen-schema.ts) and the
// TypeScript types (Static<...> and Resolved<...> below) all come from these declarations.
//
// Conventions:
// - Every object is closed (additionalProperties: false) so a typo is an error, not a silent no-op.
// - "Exactly one of" choices are declared with oneOf over `required` branches; the loader turns
//   ajv's oneOf errors into one readable message (see describeOneOf in load.ts).
// - Enums are plain string enums (not anyOf of consts) so a wrong value yields one clear error.
// - Values with a default are declared with Default(...): optional in the file, always present
//   after loading (ajv's useDefaults fills them), and Resolved<> types them as present.

import {
  Type,
  type Static,
  type TSchema,
  type TObject,
  type TArray,
  type TOptional,
  type TProperties,
  type TRecord,
  type SchemaOptions,
  type TUnsafe,
} from '@sinclair/typebox';

// ---------------------------------------------------------------------------------------------
// Type helpers

/** Type-only brand: a property that is optional in the file but filled by its default. */
export interface DefaultedBrand {
  readonly '~sluiceDefaulted': true;
}

/** An optional property that always has a value after loading (ajv inserts `value`). */
function Default<T extends TSchema>(schema: T, value: Static<T>): TOptional<T> & DefaultedBrand {
  return Type.Optional({ ...schema, default: value } as T) as TOptional<T> & DefaultedBrand;
}

/** A string enum (one `enum` keyword rather than anyOf of literals: one error, editor completion). */
function StringEnum<const V extends readonly string[]>(values: V, options: SchemaOptions = {}): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ ...options, type: 'string', enum: [...values] });
}

/** Closed object: unknown keys are errors. */
function Closed<P extends TProperties>(props: P, options: SchemaOptions = {}): TObject<P> {
  return Type.Object(props, { ...options, additionalProperties: false });
}

/** The oneOf clause that says "exactly one of these key groups is present". */
function exactlyOne(...groups: string[][]): { oneOf: { required: string[] }[] } {
  return { oneOf: groups.map((required) => ({ required })) };
}

type IsOptional<S> = S extends DefaultedBrand ? false : S extends TOptional<TSchema> ? true : false;
type Flatten<T> = { [K in keyof T]: T[K] } & {};

/**
 * The type of a config value after loading: deeply readonly, with defaulted properties present.
 * Derived from the schema declarations, never written by hand.
 */
export type Resolved<T extends TSchema> = T extends TRecord
  ? Readonly<Static<T>>
  : T extends TObject<infer P>
    ? Flatten<
        { readonly [K in keyof P as IsOptional<P[K]> extends true ? never : K]: Resolved<P[K]> } & {
          readonly [K in keyof P as IsOptional<P[K]> extends true ? K : never]?: Resolved<P[K]>;
        }
      >
    : T extends TArray<infer I>
      ? ReadonlyArray<Resolved<I>>
      : Static<T>;

// ---------------------------------------------------------------------------------------------
// Shared pieces

/** Names appear in metrics labels, logs and admin output: keep them to a safe alphabet. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';
const Name = Type.String({
  pattern: NAME_PATTERN,
  maxLength: 64,
  description: "Unique name: letters, digits, '_', '.', '-' (used in logs and metrics).",
});

const Port = Type.Integer({ minimum: 0, maximum: 65535, description: 'TCP port; 0 picks an ephemeral port (tests).' });

/** IP literal (IPv4, IPv6 without brackets) or hostname; checked by the 'host' format (formats.ts). */
const Address = Type.String({ format: 'host', description: 'IPv4 or IPv6 literal, or a hostname.' });

const Millis = (min: number, max: number, description: string) => Type.Integer({ minimum: min, maximum: max, description });

const HeaderMap = Type.Record(Type.String(), Type.String(), {
  description: 'Header name to value. Names are case-insensitive (lowercased on load).',
});

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;

// ---------------------------------------------------------------------------------------------
// Listeners

export const CertificateSchema = Closed(
  {
    cert: Type.String({ minLength: 1, description: 'PEM certificate (chain) path, relative to the config file.' }),
    key: Type.String({ minLength: 1, description: 'PEM private key path, relative to the config file.' }),
    generate: Type.Optional(
      StringEnum(['dev'] as const, {
        description: 'Create a self-signed development certificate at cert/key when both files are missing.',
      }),
    ),
    default: Default(Type.Boolean({ description: 'Serve this certificate when SNI matches no certificate name.' }), false),
  },
  { description: "A certificate and its key; SNI selects by the certificate's own SAN names." },
);

export const TlsSchema = Closed({
  certificates: Type.Array(CertificateSchema, { minItems: 1 }),
  alpn: Default(Type.Array(StringEnum(['http/1.1', 'h2'] as const), { minItems: 1, uniqueItems: true }), ['http/1.1']),
  min_version: Default(StringEnum(['TLSv1.2', 'TLSv1.3'] as const), 'TLSv1.2'),
  session_tickets: Default(
    Closed({
      enabled: Default(Type.Boolean(), true),
      rotate_seconds: Default(Type.Integer({ minimum: 60, maximum: 604800, description: 'Ticket key rotation period.' }), 3600),
    }),
    {},
  ),
});

export const HttpLimitsSchema = Closed({
  max_request_line_bytes: Default(Type.Integer({ minimum: 64, maximum: 1048576 }), 8192),
  max_header_bytes: Default(Type.Integer({ minimum: 256, maximum: 16777216 }), 16384),
  max_header_count: Default(Type.Integer({ minimum: 1, maximum: 10000 }), 100),
  max_body_bytes: Default(
    Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: '0 means no limit.' }),
    104857600,
  ),
  headers_timeout_ms: Default(Millis(1, 3600000, 'Time allowed to receive a complete request head.'), 10000),
  idle_timeout_ms: Default(Millis(1, 86400000, 'Keep-alive connection idle time before closing.'), 60000),
  max_requests_per_connection: Default(Type.Integer({ minimum: 0, maximum: 4294967295, description: '0 means no limit.' }), 0),
});

export const TapSchema = Closed(
  {
    device: Default(
      Type.String({ pattern: '^[A-Za-z0-9_.%-]{1,15}$', description: "TAP interface name (an existing persistent device is attached; '%d' lets the kernel number a new one)." }),
      'sluice%d',
    ),
    prefix_length: Default(Type.Integer({ minimum: 1, maximum: 32, description: "Prefix length of the listener's address on this link." }), 24),
    gateway: Type.Optional(Type.String({ format: 'ipv4', description: 'Next hop for clients outside the prefix.' })),
    mtu: Default(Type.Integer({ minimum: 576, maximum: 9000, description: 'IP MTU of the link.' }), 1500),
  },
  { description: 'The TAP device the bypass stack owns (transport: tap).' },
);

export const DpdkListenerSchema = Closed(
  {
    device: Type.String({
      minLength: 1,
      maxLength: 256,
      description:
        "DPDK device: a vdev devargs string (net_af_packet0,iface=veth0; net_af_xdp0,iface=veth0; net_tap0,iface=dtap0), hot-plugged at start, or the name of a port the EAL probed (--vdev, or a PCI address from the allow list such as 0000:3b:00.0).",
    }),
    prefix_length: Default(Type.Integer({ minimum: 1, maximum: 32, description: "Prefix length of the listener's address on this link." }), 24),
    gateway: Type.Optional(Type.String({ format: 'ipv4', description: 'Next hop for clients outside the prefix.' })),
    mtu: Default(Type.Integer({ minimum: 576, maximum: 9000, description: 'IP MTU of the port.' }), 1500),
    rx_queue_size: Default(Type.Integer({ minimum: 32, maximum: 16384, description: 'rx descriptors (the PMD may round).' }), 1024),
    tx_queue_size: Default(Type.Integer({ minimum: 32, maximum: 16384, description: 'tx descriptors (the PMD may round).' }), 1024),
    mempool_size: Default(
      Type.Integer({ minimum: 256, maximum: 16777216, description: 'mbufs in the port pool; at least rx_queue_size + tx_queue_size + 128.' }),
      4095,
    ),
    rx_mode: Type.Optional(
      StringEnum(['inplace', 'copy'] as const, {
        description:
          "How received frames reach the stack: 'inplace' (read where the PMD put them, no copy) or 'copy' (copied into the stack's slots). Unset: the SLUICE_DPDK_RX_MODE environment variable, else 'inplace'.",
      }),
    ),
    checksum_offload: Default(
      StringEnum(['device', 'software', 'none'] as const, {
        description:
          "Who verifies and fills the IPv4 and TCP checksums: 'device' (the NIC where its PMD has the offload, else the port's native bursts), 'software' (the native bursts only), 'none' (the TypeScript stack).",
      }),
      'device',
    ),
  },
  { description: 'The DPDK port the bypass stack owns (transport: dpdk). EAL arguments are process-wide: the top-level dpdk section.' },
);

export const DpdkSchema = Closed(
  {
    eal_args: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        "EAL arguments, once per process (no argv[0]). Virtual devices: ['--no-huge', '--no-pci', '-m', '256', '--file-prefix', 'sluice']; real NICs: ['-l', '2', '-a', '0000:3b:00.0', '--file-prefix', 'sluice'] with hugepages and vfio-pci (docs/dpdk.md).",
    }),
  },
  { description: 'DPDK environment shared by every transport: dpdk listener (the EAL starts once per process).' },
);

export const XdpSchema = Closed(
  {
    interface: Type.String({
      pattern: '^[A-Za-z0-9_.:@-]{1,15}$',
      description: 'Interface where client traffic enters (a veth or NIC in front of the TAP, not the TAP itself: XDP sees ingress only).',
    }),
    mode: Default(
      StringEnum(['auto', 'native', 'generic'] as const, { description: "XDP mode: 'native' runs in the driver, 'generic' on any device after skb allocation, 'auto' lets the kernel pick." }),
      'auto',
    ),
  },
  {
    description:
      "Also run the deny/allow lists and the SYN limit in an XDP program on this interface, so denied traffic is dropped in the kernel (docs/xdp.md). The software filter keeps running; when XDP cannot load, Sluice logs why and the software filter alone does the work.",
  },
);

export const FilterSchema = Closed(
  {
    allow: Default(Type.Array(Type.String({ minLength: 1 }), { description: 'CIDRs allowed in; empty allows all. Deny wins.' }), []),
    deny: Default(Type.Array(Type.String({ minLength: 1 }), { description: 'CIDRs dropped before TCP.' }), []),
    max_connections_per_source: Default(Type.Integer({ minimum: 0, maximum: 1000000, description: '0 means no limit.' }), 0),
    syn_rate_per_source: Default(Type.Number({ minimum: 0, maximum: 1000000, description: 'SYNs per second per source; 0 means no limit.' }), 0),
    syn_burst_per_source: Default(Type.Integer({ minimum: 0, maximum: 1000000, description: 'SYN bucket depth per source.' }), 0),
    xdp: Type.Optional(XdpSchema),
  },
  { description: "The bypass stack's own packet filter (iptables no longer sees this traffic)." },
);

export const ListenerSchema = Closed({
  name: Name,
  address: Default(Address, '127.0.0.1'),
  port: Port,
  transport: Default(
    StringEnum(['kernel', 'tap', 'dpdk'] as const, { description: 'Data path: kernel sockets or the bypass stack.' }),
    'kernel',
  ),
  tls: Type.Optional(TlsSchema),
  http: Default(HttpLimitsSchema, {}),
  tap: Type.Optional(TapSchema),
  dpdk: Type.Optional(DpdkListenerSchema),
  filter: Type.Optional(FilterSchema),
});

// ---------------------------------------------------------------------------------------------
// Routes

export const PathMatchSchema = Closed(
  {
    prefix: Type.Optional(Type.String({ pattern: '^/', description: 'Path starts with this string.' })),
    exact: Type.Optional(Type.String({ pattern: '^/', description: 'Path equals this string.' })),
    regex: Type.Optional(Type.String({ minLength: 1, description: 'JavaScript RegExp matching the whole path.' })),
  },
  exactlyOne(['prefix'], ['exact'], ['regex']),
);

/** Header and query-parameter matchers: a name and exactly one condition. */
export const ValueMatchSchema = Closed(
  {
    name: Type.String({ minLength: 1 }),
    exact: Type.Optional(Type.String()),
    regex: Type.Optional(Type.String({ minLength: 1, description: 'JavaScript RegExp matching the whole value.' })),
    present: Type.Optional(Type.Boolean({ description: 'true: must be present; false: must be absent.' })),
  },
  exactlyOne(['exact'], ['regex'], ['present']),
);

export const RouteMatchSchema = Closed({
  hosts: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: "Host names; '*.example.com' matches one or more labels before example.com. Omit for any host.",
    }),
  ),
  path: Default(PathMatchSchema, { prefix: '/' }),
  methods: Type.Optional(Type.Array(StringEnum(HTTP_METHODS), { minItems: 1, uniqueItems: true })),
  headers: Type.Optional(Type.Array(ValueMatchSchema, { minItems: 1 })),
  query: Type.Optional(Type.Array(ValueMatchSchema, { minItems: 1 })),
});

export const DirectResponseSchema = Closed({
  status: Default(Type.Integer({ minimum: 200, maximum: 599 }), 200),
  headers: Default(HeaderMap, {}),
  body: Default(Type.String(), ''),
});

export const HeaderEditSchema = Closed({
  add: Default(HeaderMap, {}),
  remove: Default(Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true }), []),
});

export const RewriteSchema = Closed(
  {
    prefix: Type.Optional(Type.String({ pattern: '^/', description: 'Replaces the matched path prefix.' })),
    regex: Type.Optional(Type.String({ minLength: 1, description: 'JavaScript RegExp applied to the path.' })),
    substitution: Type.Optional(Type.String({ description: 'Replacement; \\1..\\9 insert capture groups.' })),
  },
  { ...exactlyOne(['prefix'], ['regex']), dependencies: { regex: ['substitution'], substitution: ['regex'] } },
);

export const ProxySchema = Closed({
  cluster: Name,
  rewrite: Type.Optional(RewriteSchema),
  request_headers: Default(HeaderEditSchema, {}),
  response_headers: Default(HeaderEditSchema, {}),
  timeout_ms: Type.Optional(Millis(1, 86400000, "Overrides the cluster's request_timeout_ms.")),
});

export const RouteSchema = Closed(
  {
    name: Name,
    listeners: Type.Optional(
      Type.Array(Name, { minItems: 1, uniqueItems: true, description: 'Listeners this route serves; default all.' }),
    ),
    match: Default(RouteMatchSchema, {}),
    direct_response: Type.Optional(DirectResponseSchema),
    proxy: Type.Optional(ProxySchema),
  },
  exactlyOne(['proxy'], ['direct_response']),
);

// ---------------------------------------------------------------------------------------------
// Clusters, admin, logging

export const ClusterSchema = Closed({
  name: Name,
  // An empty list is valid: a cluster scaled to zero answers 503 no_endpoint by name instead of
  // making the whole config invalid.
  endpoints: Type.Array(Type.String({ minLength: 1, description: 'host:port (IPv4, [IPv6] or hostname).' }), {
    description: 'Endpoints; an empty list makes every request to the cluster a 503 (no_endpoint).',
  }),
  balance: Default(StringEnum(['round_robin', 'least_request', 'random'] as const), 'round_robin'),
  connect_timeout_ms: Default(Millis(1, 600000, 'TCP (and TLS) connect timeout per attempt.'), 2000),
  request_timeout_ms: Default(Millis(1, 86400000, 'Longest wait for the response head, and for each gap between response body bytes (a long download is not cut off).'), 30000),
  // 4 s: below common upstream keep-alive timeouts (Node's default is 5 s), so the pool closes
  // idle sockets before the upstream does and never writes into a connection being closed.
  idle_timeout_ms: Default(Millis(1, 3600000, 'Idle pooled connection lifetime.'), 4000),
  max_connections: Default(Type.Integer({ minimum: 1, maximum: 100000, description: 'Pool size per endpoint.' }), 64),
});

export const AdminSchema = Closed({
  address: Default(Address, '127.0.0.1'),
  port: Default(Port, 9901),
  socket: Type.Optional(
    Type.String({ minLength: 1, description: 'Unix socket for reload/netstat; relative paths are config-relative.' }),
  ),
});

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

export const LoggingSchema = Closed({
  level: Default(StringEnum(LOG_LEVELS), 'info'),
  access_log: Default(Type.Boolean(), true),
});

export const ConfigSchema = Closed(
  {
    listeners: Type.Array(ListenerSchema, { minItems: 1 }),
    routes: Default(Type.Array(RouteSchema, { description: 'Ordered; first match wins within a host bucket.' }), []),
    clusters: Default(Type.Array(ClusterSchema), []),
    admin: Default(AdminSchema, {}),
    logging: Default(LoggingSchema, {}),
    dpdk: Type.Optional(DpdkSchema),
    drain_timeout_ms: Default(Millis(0, 600000, 'Time allowed for in-flight requests on shutdown or reload.'), 10000),
  },
  { title: 'Sluice configuration' },
);

// ---------------------------------------------------------------------------------------------
// Types: what a config file may contain (Static) and what the loader hands out (Resolved).

/** The config as written (defaulted keys optional). */
export type ConfigInput = Static<typeof ConfigSchema>;
/** The config after defaults (and, in a snapshot, with paths resolved to absolute). */
export type ResolvedConfig = Resolved<typeof ConfigSchema>;
export type ListenerSpec = Resolved<typeof ListenerSchema>;
export type TlsSpec = Resolved<typeof TlsSchema>;
export type CertificateSpec = Resolved<typeof CertificateSchema>;
export type HttpLimits = Resolved<typeof HttpLimitsSchema>;
export type TapSpec = Resolved<typeof TapSchema>;
export type FilterSpec = Resolved<typeof FilterSchema>;
export type DpdkListenerSpec = Resolved<typeof DpdkListenerSchema>;
export type DpdkSpec = Resolved<typeof DpdkSchema>;
export type RouteSpec = Resolved<typeof RouteSchema>;
export type RouteMatchSpec = Resolved<typeof RouteMatchSchema>;
export type PathMatchSpec = Resolved<typeof PathMatchSchema>;
export type ValueMatchSpec = Resolved<typeof ValueMatchSchema>;
export type DirectResponseSpec = Resolved<typeof DirectResponseSchema>;
export type ProxySpec = Resolved<typeof ProxySchema>;
export type RewriteSpec = Resolved<typeof RewriteSchema>;
export type HeaderEditSpec = Resolved<typeof HeaderEditSchema>;
export type ClusterSpec = Resolved<typeof ClusterSchema>;
export type AdminSpec = Resolved<typeof AdminSchema>;
export type LoggingSpec = Resolved<typeof LoggingSchema>;
export type LogLevel = (typeof LOG_LEVELS)[number];
