import pino, { type Logger } from 'pino';

/** Structured JSON logs; human-readable when stdout is a terminal. Secrets are redacted. */
export function makeLogger(level: string, pretty = process.stdout.isTTY === true): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', '*.secretKey', '*.token'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:standard', ignore: 'pid,hostname' } } } : {}),
  });
}
