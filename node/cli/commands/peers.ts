import { Command } from 'commander';
import { action, type Cli } from '../context.js';

export function peersCommand(cli: Cli): Command {
  return new Command('peers')
    .description('list the peers the running node is connected to: id, address, latency, gossip score, direction, last sync')
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      return cli.withClient(async (client) => {
        const peers = await client.peers();
        if (opts.json) return void cli.json({ peers });
        if (peers.length === 0) cli.out('no peers connected');
        for (const p of peers) {
          cli.out(`${p.peerId}  ${p.addresses.join(',')}  ${p.latencyMs === null ? '-' : `${p.latencyMs} ms`}  score ${p.gossipScore.toFixed(2)}  ${p.direction}  ${p.lastSync ? `synced ${p.lastSync.at} (${p.lastSync.fetched} fetched)` : 'not synced yet'}`);
        }
      });
    }));
}

export function connectCommand(cli: Cli): Command {
  return new Command('connect')
    .description('connect the running node to a peer and keep the connection')
    .argument('<multiaddr>', 'e.g. /ip4/192.0.2.7/tcp/7421/p2p/12D3KooW…')
    .action(action(async (addr: string) => {
      return cli.withClient(async (client) => {
        cli.out(`connected to ${await client.connect(addr)}`);
      });
    }));
}
