import { Command } from 'commander';
import { nativeSuite } from '../../crypto/native-suite.js';
import { hashPath } from '../../hash/hash-path.js';
import { progressBar } from '../progress.js';
import { action, type Cli } from '../context.js';

export function hashCommand(cli: Cli): Command {
  return new Command('hash')
    .description('compute the model digest of a file (its sha256) or a directory (OpenSSF model signing root digest)')
    .argument('<path>', 'model file or directory')
    .option('--json', 'print the digest and per-file digests as JSON')
    .option('--allow-symlinks', 'hash the files symbolic links point to instead of refusing them')
    .action(action(async (path: string, opts: { json?: boolean; allowSymlinks?: boolean }) => {
      const bar = progressBar('hashing');
      try {
        const d = await hashPath(path, nativeSuite(), { allowSymlinks: opts.allowSymlinks ?? false, progress: bar.update });
        bar.stop();
        if (opts.json) cli.json({ digest: `sha256:${d.digest}`, kind: d.kind, name: d.name, bytes: d.bytes, ...(d.files ? { files: d.files } : {}) });
        else if (d.files) {
          for (const f of d.files) cli.out(`${f.sha256}  ${f.path}`);
          cli.out(`sha256:${d.digest}  ${d.name}/ (root of ${d.files.length} files)`);
        } else cli.out(`sha256:${d.digest}  ${d.name}`);
      } finally {
        bar.stop();
      }
    }));
}
