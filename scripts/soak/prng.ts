/**
 * Seeded pseudo-random numbers for the soak and crash tests: the same seed
 * gives the same plan of requests, bodies and kill points, so a failing run
 * can be repeated (as far as timing allows).
 *
 * @module
 */

/**
 * A mulberry32 generator.
 *
 * @param seed any 32-bit integer
 * @returns a function giving the next unsigned 32-bit number
 */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** `length` pseudo-random bytes from `seed`. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const next = createPrng(seed);
  const words = new Uint32Array(Math.ceil(length / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  return new Uint8Array(words.buffer, 0, length);
}
