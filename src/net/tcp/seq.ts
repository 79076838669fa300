// Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4): comparisons look at the sign of the
// 32-bit difference, so they stay right across wrap-around as long as the two numbers are less
// than 2^31 apart, which windows guarantee.

export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** a - b as a signed 32-bit distance. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b;
}
