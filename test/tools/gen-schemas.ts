import { mkdir, writeFile } from 'node:fs/promises';
import { buildSchemas } from './schemas.js';

const dir = new URL('../../../protocol/schemas/', import.meta.url);
await mkdir(dir, { recursive: true });
for (const [name, schema] of Object.entries(buildSchemas())) {
  await writeFile(new URL(name, dir), JSON.stringify(schema, null, 2) + '\n');
  console.log(`wrote protocol/schemas/${name}`);
}
