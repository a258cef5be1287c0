import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { initHome } from '../../home/home.js';
import { action, intOption, report, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';

/** After a stop signal, the process exits within this long whatever is still open. */
const STOP_DEADLINE_MS = 10_000;
const PARENT_POLL_MS = 500;

export function startCommand(cli: Cli): Command {
  return new Command('start')
    .description('run the node: open the store and serve the local HTTP API until stopped (Ctrl-C, SIGTERM)')
    .option('--host <address>', 'address for the API (default 127.0.0.1; config api.host, env CHORUS_API_HOST)')
    .option('--port <port>', 'port for the API (default 7420; 0 picks a free one)', intOption('--port'))
    .option('--lan', 'also serve the API and web view on the LAN over HTTPS (config api.lan): a certificate the node makes, a login for everything')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .option('--no-net', 'do not join the peer-to-peer network (config net.enabled)')
    .option('--listen <multiaddr...>', 'libp2p listen addresses (default /ip4/0.0.0.0/tcp/7421)')
    .option('--bootstrap <multiaddr...>', 'peers to dial at start and keep connected')
    .option('--no-mdns', 'do not look for peers on the local network')
    .option('--announce <multiaddr...>', 'addresses to tell peers (a public address forwarded to this node)')
    .option('--no-upnp', 'do not ask the router to forward the listen port')
    .addOption(new Option('--relay <mode>', 'circuit relay client: off, auto (reserve when no public address is confirmed), always').choices(['off', 'auto', 'always']))
    .option('--relay-server', 'relay for peers behind NAT (for a node with a public address)')
    .addHelpText('after', '\nA data dir without an identity is initialised first (as chorus init does).\nWhile the node runs, the other chorus commands talk to it over the API.\nConfiguration: <data dir>/config.json, then environment variables, then these flags.')
    .action(action(async (opts: { lan?: boolean; host?: string; port?: number; logLevel?: string; net: boolean; listen?: string[]; bootstrap?: string[]; mdns: boolean; announce?: string[]; upnp: boolean; relay?: string; relayServer?: boolean }) => {
      const home = cli.home();
      if (!existsSync(home.key)) {
        const id = await initHome(home);
        cli.err(`initialised a new node in ${home.root}; its issuer id is ${id.did}`);
      }
      // Loaded here, not at the top: the daemon pulls in libp2p and Fastify (over a second
      // of module loading), which every other command and --help would otherwise pay for.
      const { startDaemon } = await import('../../daemon/daemon.js');
      // A node that failed to start may have parts still running (a half-started network):
      // the process ends here rather than hang on them.
      const daemon = await startDaemon(home, {
        overrides: {
          'api.host': opts.host,
          ...(opts.lan ? { 'api.lan': true } : {}),
          'api.port': opts.port,
          'log.level': opts.logLevel,
          'net.listen': opts.listen,
          'net.bootstrap': opts.bootstrap,
          ...(opts.net ? {} : { 'net.enabled': false }),
          ...(opts.mdns ? {} : { 'net.mdns': false }),
          'net.announce': opts.announce,
          ...(opts.upnp ? {} : { 'net.upnp': false }),
          'net.relay': opts.relay,
          ...(opts.relayServer ? { 'net.relayServer': true } : {}),
        },
      }).catch((e: unknown) => process.exit(report(e)));
      await new Promise<void>((resolve) => {
        const seen = new Set<NodeJS.Signals>();
        const stop = (why: Record<string, unknown>): void => {
          daemon.log.info(why, 'stopping');
          // Whatever hangs, the process ends: a supervisor expects SIGTERM to be obeyed.
          setTimeout(() => {
            daemon.log.error({ deadlineMs: STOP_DEADLINE_MS }, 'did not stop in time: exiting without waiting');
            process.exit(EXIT.error);
          }, STOP_DEADLINE_MS).unref();
          daemon.stop().then(resolve, (e: unknown) => {
            daemon.log.error({ err: e }, 'error while stopping');
            process.exitCode = EXIT.error;
            resolve();
          });
        };
        const onSignal = (sig: NodeJS.Signals): void => {
          // The same signal twice (Ctrl-C pressed again) forces the exit; a SIGTERM right
          // after a SIGINT (a supervisor passing Ctrl-C on) is the same stop request.
          if (seen.has(sig)) {
            daemon.log.warn({ sig }, 'signal repeated: exiting without waiting');
            process.exit(1);
          }
          const first = seen.size === 0;
          seen.add(sig);
          if (!first) return;
          stop({ sig });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        // Started by npm (npm start, npx chorus start), the node runs under a shell that
        // npm signals; that shell dies without passing the signal on, and the node would
        // be left running under init. When that parent goes, the node stops too.
        if (process.env['npm_command'] !== undefined) {
          const parent = process.ppid;
          const watch = setInterval(() => {
            if (process.ppid === parent || seen.size > 0) return;
            clearInterval(watch);
            seen.add('SIGHUP');
            stop({ parentGone: parent });
          }, PARENT_POLL_MS);
          watch.unref();
        }
      });
    }));
}
