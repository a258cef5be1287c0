import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The browser app (browser/ at the package root), found from this module in the source tree or in dist. */
export function webRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'browser', 'index.html'))) return join(dir, 'browser');
    dir = dirname(dir);
  }
  throw new Error('browser/index.html not found above node/api/web-ui: the package is incomplete');
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/**
 * Everything the page loads, read once at start and kept in memory (about 100 KB): the
 * files of browser/ and the third-party ES modules it imports. They are served under
 * /ui/<id>/, where id is a hash of their content, so a browser caches them for good and
 * never revalidates (every round trip is on the page's critical path); a new version of
 * the assets has a new id.
 */
export class Assets {
  readonly id: string;
  readonly files = new Map<string, Asset>();
  /** index.html with its asset URLs pointing under /ui/<id>/. */
  readonly index: Buffer;
  /** The inline import map, for the CSP hash. */
  readonly importMap: string;

  constructor(root: string = webRoot()) {
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (TYPES[extname(e.name)] !== undefined && e.name !== 'index.html') this.files.set(relative(root, p).split(sep).join('/'), { body: readFileSync(p), type: TYPES[extname(e.name)] as string });
      }
    };
    walk(root);
    const js = TYPES['.js'] as string;
    const file = (spec: string): string => fileURLToPath(import.meta.resolve(spec));
    this.files.set('vendor/preact.js', { body: readFileSync(file('preact')), type: js });
    this.files.set('vendor/hooks.js', { body: readFileSync(file('preact/hooks')), type: js });
    this.files.set('vendor/htm.js', { body: readFileSync(file('htm')), type: js });
    // sha2.js and what it imports, for the hashing worker.
    const noble = dirname(file('@noble/hashes/sha2.js'));
    for (const f of ['sha2.js', '_md.js', '_u64.js', 'utils.js']) this.files.set(`vendor/noble/${f}`, { body: readFileSync(join(noble, f)), type: js });

    const h = createHash('sha256');
    for (const [k, v] of [...this.files].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(k).update(v.body);
    const html = readFileSync(join(root, 'index.html'), 'utf8');
    h.update(html);
    this.id = h.digest('hex').slice(0, 16);
    const index = html.replaceAll('/ui/', `${this.prefix}`);
    const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(index)?.[1];
    if (map === undefined) throw new Error('browser/index.html has no import map');
    this.importMap = map;
    this.index = Buffer.from(index);
  }

  /** The URL prefix of this version of the assets. */
  get prefix(): string {
    return `/ui/${this.id}/`;
  }
}
