import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigSchema, DEFAULT_CONFIG, resolveConfig } from '../../node/home/config.js';
import { isChorusError } from '../../src/errors.js';
import { tempDir } from '../support/temp-dir.js';

describe('configuration', () => {
  it('deploy/config.example.json lists exactly the defaults', () => {
    const example = JSON.parse(readFileSync(new URL('../../deploy/config.example.json', import.meta.url), 'utf8')) as unknown;
    expect(ConfigSchema.parse(example)).toEqual(DEFAULT_CONFIG);
    expect(example).toEqual(DEFAULT_CONFIG);
  });

  it('file, then environment, then flags; each layer wins over the one before', async () => {
    await using dir = await tempDir();
    const path = join(dir.path, 'config.json');
    await writeFile(path, JSON.stringify({ api: { port: 8000, host: '127.0.0.2' } }));
    const c = await resolveConfig(path, { CHORUS_API_PORT: '9000', CHORUS_API_REQUIRE_TOKEN_FOR_READS: 'true' }, { 'api.port': 9100 });
    expect(c.api).toMatchObject({ port: 9100, host: '127.0.0.2', requireTokenForReads: true });
  });

  it('a bad value is one typed error naming the field and where it came from', async () => {
    await using dir = await tempDir();
    const path = join(dir.path, 'config.json');
    await writeFile(path, JSON.stringify({ api: { prot: 1 } }));
    const e1 = await resolveConfig(path).catch((e: unknown) => e);
    expect(isChorusError(e1, 'bad_input')).toBe(true);
    expect((e1 as Error).message).toMatch(/field "api"/);
    await writeFile(path, '{}');
    const e2 = await resolveConfig(path, { CHORUS_LOG_LEVEL: 'loud' }).catch((e: unknown) => e);
    expect((e2 as Error).message).toMatch(/field "log\.level" \(from environment variable CHORUS_LOG_LEVEL\)/);
    await writeFile(path, '{not json');
    expect(((await resolveConfig(path).catch((e: unknown) => e)) as Error).message).toMatch(/not valid JSON/);
  });
});
