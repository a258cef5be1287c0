import { existsSync, readFileSync } from 'node:fs';

/** The package root: one level up from node/ in source, two from dist/node/ when built. */
function packageJson(): URL {
  for (const rel of ['../package.json', '../../package.json']) {
    const u = new URL(rel, import.meta.url);
    if (existsSync(u)) return u;
  }
  throw new Error('package.json not found next to the chorus sources');
}

/** The package version, read once from package.json. */
export const VERSION: string = (JSON.parse(readFileSync(packageJson(), 'utf8')) as { version: string }).version;
