/** Deterministic PRNG (mulberry32): the same seed gives the same sequence, so a run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` bytes drawn from `r` (so they derive from its seed). */
export function prngBytes(r: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

/** `n` bytes as lowercase hex, drawn from `r`. */
export function prngHex(r: () => number, n: number): string {
  return Buffer.from(prngBytes(r, n)).toString('hex');
}

/**
 * The seed of a seeded test: `fallback`, or the value of the environment variable `envVar`
 * (decimal or 0x-hex) to replay a failed run. Printed either way, so a failure names the seed
 * that reproduces it.
 */
export function testSeed(envVar: string, fallback: number, label = envVar): number {
  const raw = process.env[envVar];
  let seed = fallback;
  if (raw !== undefined && raw.trim() !== '') {
    seed = Number(raw.trim());
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new Error(`${envVar}=${raw}: not an integer seed in 0..2^32-1`);
  }
  console.log(`[${label}] seed ${seed} (replay with ${envVar}=${seed})`);
  return seed >>> 0;
}
