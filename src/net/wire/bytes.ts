// Byte copy without the view object that `dst.set(src.subarray(...))` allocates: used on per-frame
// paths (echo replies, queued packets) where allocating per packet is what we avoid.

export function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  if (dst === src) {
    dst.copyWithin(dstOff, srcOff, srcOff + len);
    return;
  }
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
}
