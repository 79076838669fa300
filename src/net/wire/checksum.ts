// The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones' complement sum of
// the data taken as big-endian 16-bit words. Shared by IPv4, ICMP and TCP.
//
// Sums are kept as plain (unfolded) JS numbers: a sum over 64 KiB of words stays below 2^32, far
// inside exact double range, so folding happens once at the end instead of per word.

/**
 * Ones' complement partial sum of buf[off, off + len), added to `initial` (another partial sum,
 * e.g. from pseudoHeaderSum). An odd trailing byte is padded with a zero byte (RFC 1071 4.1).
 * The result is unfolded; pass it to another sum or to finish().
 */
export function sum16(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  const end = off + len - 1;
  let i = off;
  for (; i < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i === end) sum += buf[i] << 8;
  return sum;
}

/** Fold a partial sum into 16 bits (end-around carry), without complementing. */
export function fold(sum: number): number {
  // Two rounds suffice for any sum < 2^32; loop anyway so larger partial sums stay correct.
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** Complement of the folded sum: the value that goes into a checksum field. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/**
 * The checksum of buf[off, off + len) seeded with the partial sum `initial`.
 * To emit: zero the checksum field, compute, store the result.
 * To verify: compute over the data with the received checksum in place; 0 means valid.
 */
export function checksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return finish(sum16(buf, off, len, initial));
}

/**
 * Partial sum of the IPv4 pseudo-header used by TCP and UDP (RFC 9293 3.1, RFC 768):
 * source address, destination address, zero, protocol, upper-layer length.
 * Addresses are uint32 numbers in host order.
 */
export function pseudoHeaderSum(src: number, dst: number, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (proto & 0xff) + (len & 0xffff);
}

/**
 * Incremental update of a checksum field when one 16-bit word changes from `oldWord` to
 * `newWord` (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')). Used to patch e.g. TTL without re-summing.
 */
export function updateChecksum16(oldChecksum: number, oldWord: number, newWord: number): number {
  const sum = (~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold(sum) & 0xffff;
}
