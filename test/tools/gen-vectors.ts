import { mkdir, writeFile } from 'node:fs/promises';
import { buildVectors } from './vectors.js';

const dir = new URL('../../../protocol/vectors/', import.meta.url);
await mkdir(dir, { recursive: true });
for (const [name, content] of Object.entries(buildVectors())) {
  await writeFile(new URL(name, dir), JSON.stringify(content, null, 2) + '\n');
  console.log(`wrote protocol/vectors/${name}`);
}
