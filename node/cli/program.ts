import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { makeCli } from './context.js';
import { EXIT } from './exit-codes.js';
import { attestCommand } from './commands/attest.js';
import { exportCommand } from './commands/export.js';
import { hashCommand } from './commands/hash.js';
import { idCommand } from './commands/id.js';
import { importCommand } from './commands/import.js';
import { initCommand } from './commands/init.js';
import { listCommand } from './commands/list.js';
import { queryCommand } from './commands/query.js';
import { showCommand } from './commands/show.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { connectCommand, peersCommand } from './commands/peers.js';
import { logCommand } from './commands/log.js';
import { trustCommand } from './commands/trust.js';
import { scanCommand } from './commands/scan.js';
import { checkCommand } from './commands/check.js';
import { verifyStoreCommand } from './commands/verify-store.js';
import { verifySignatureCommand } from './commands/verify-signature.js';
import { uiCommand } from './commands/ui.js';
import { keyCommand } from './commands/key.js';

const program = new Command('chorus')
  .description('Chorus: signed attestations about AI model digests, and your own reputation view of them')
  .version(VERSION)
  .option('--home <dir>', 'data dir (default: $CHORUS_HOME, else ~/.chorus)')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Exit status:
  0 ok   1 error   2 bad usage or input   3 query: the status --fail-on names (default flagged);
         scan: a model flagged or dangerous; check: denied   4 not found
  5 input rejected (attest, import)   6 not initialised (run chorus init)
  7 store in use by another process   8 verify-store found problems`,
  );

const cli = makeCli(program);
for (const make of [initCommand, startCommand, idCommand, hashCommand, attestCommand, queryCommand, showCommand, listCommand, exportCommand, importCommand, trustCommand, scanCommand, checkCommand, verifySignatureCommand, verifyStoreCommand, keyCommand, statusCommand, peersCommand, connectCommand, logCommand, uiCommand]) {
  program.addCommand(make(cli));
}

function usageExit(cmd: Command): void {
  cmd.exitOverride((err: CommanderError) => {
    // --help and --version succeed; help shown because a command is missing is a usage error.
    const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
    process.exit(ok ? EXIT.ok : EXIT.usage);
  });
  for (const c of cmd.commands) usageExit(c);
}
usageExit(program);

await program.parseAsync(process.argv);
