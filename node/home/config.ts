import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ChorusError } from '../../src/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/ingest/limits.js';

/** config.json in the data dir. Every field has a default; unknown fields are an error. */
export const ConfigSchema = z.strictObject({
  limits: z
    .strictObject({
      maxEnvelopeBytes: z.int().min(1024).max(DEFAULT_LIMITS.maxEnvelopeBytes).default(DEFAULT_LIMITS.maxEnvelopeBytes),
      maxClockSkewSeconds: z.int().min(0).max(86_400).default(DEFAULT_LIMITS.maxClockSkewMs / 1000),
      issuerQuotaBytes: z.int().min(1024).default(DEFAULT_LIMITS.issuerQuotaBytes),
    })
    .prefault({}),
  trust: z
    .strictObject({
      /** Whether the node's own key counts without being on the trust list. */
      includeSelf: z.boolean().default(true),
    })
    .prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;

export const DEFAULT_CONFIG: Config = ConfigSchema.parse({});

/** Reads and validates config.json; a missing file means all defaults. */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_CONFIG;
    throw new ChorusError('io_error', `cannot read ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ChorusError('bad_input', `${path} is not valid JSON: ${(e as Error).message}`);
  }
  const r = ConfigSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    const field = i && i.path.length > 0 ? i.path.join('.') : '(root)';
    throw new ChorusError('bad_input', `invalid config ${path}: field "${field}": ${i?.message ?? 'invalid'}`, { field });
  }
  return r.data;
}

export function limitsOf(config: Config): Limits {
  return {
    maxEnvelopeBytes: config.limits.maxEnvelopeBytes,
    maxClockSkewMs: config.limits.maxClockSkewSeconds * 1000,
    issuerQuotaBytes: config.limits.issuerQuotaBytes,
  };
}
