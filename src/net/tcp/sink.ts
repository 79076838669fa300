// The boundary between TCP and the IP layer below it, on the transmit side. TCP writes each
// segment straight into a frame slot of the outgoing burst; the IP layer owns the headers around
// it. IPv4 addresses are uint32 numbers in host order (198.18.0.1 = 0xc6120001).

export interface SegmentSink {
  /** The buffer segments are written into (a FrameBatch's data). */
  readonly buf: Uint8Array;
  /**
   * Reserve room for one TCP segment to `remoteIp`. Returns the offset in `buf` where the TCP
   * header must start, or -1 when this burst has no slot left (TCP keeps the segment for the next
   * poll). At most `maxSegmentBytes` (TCP header + payload) may be written there.
   */
  reserve(remoteIp: number): number;
  readonly maxSegmentBytes: number;
  /**
   * True when the port under this sink fills the TCP checksum (checksum offload): TCP leaves the
   * field as emitHeader wrote it. Absent or false: TCP fills it (when cfg.checksums).
   */
  readonly checksumOffload?: boolean;
  /** The segment just reserved is `tcpLen` bytes and complete (TCP checksum included, unless offloaded). */
  commit(localIp: number, remoteIp: number, tcpLen: number): void;
}
