/**
 * The HTTP-only reference for `bench:api`: the same framework (Fastify, same options that
 * matter) serving a constant JSON body of a given size. Prints its URL on stdout.
 */
import Fastify from 'fastify';

const bytes = Number(process.argv[2] ?? 2000);
const body = JSON.stringify({ digest: 'sha256:' + '0'.repeat(64), padding: 'x'.repeat(Math.max(0, bytes - 100)) });
const app = Fastify({ logger: false });
app.setSerializerCompiler(() => (data) => JSON.stringify(data));
const constant = JSON.parse(body) as unknown;
app.get('/v1/models/:digest/reputation', async () => constant);
await app.listen({ host: '127.0.0.1', port: 0 });
const addr = app.server.address();
process.stdout.write(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
