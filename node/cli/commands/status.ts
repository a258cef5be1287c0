import { Command } from 'commander';
import { action, type Cli } from '../context.js';

export function statusCommand(cli: Cli): Command {
  return new Command('status')
    .description("show this node's identity, whether it is running, store counts, trust list size, and its network reachability")
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      return cli.withClient(async (client) => {
        const s = { running: client.mode === 'daemon', ...(await client.status()) };
        if (opts.json) return void cli.json(s);
        const { api, network, running, ...rest } = s;
        const onOff = (b: boolean) => (b ? 'on' : 'off');
        const net = network
          ? {
              peerId: network.peerId,
              listen: network.listen.join(' '),
              peers: network.peers,
              reachability: `${network.reachability.state}   (upnp ${onOff(network.reachability.upnp)}, autonat ${onOff(network.reachability.autonat)}, relay ${network.reachability.relay}, relay server ${onOff(network.reachability.relayServer)}, dcutr ${onOff(network.reachability.dcutr)})`,
              ...(network.providers ? { providers: `${network.providers.announced} digests announced in the DHT, ${network.providers.pending} queued, ${network.providers.waiting} waiting for a peer` } : {}),
            }
          : { network: running ? 'off' : '-' };
        const state = running ? 'running' : 'no node running (start one: chorus start)';
        cli.out(Object.entries({ node: state, ...rest, api: api.url ?? '-', ...net }).map(([k, v]) => `${k.padEnd(15)} ${String(v)}`).join('\n'));
      });
    }));
}
