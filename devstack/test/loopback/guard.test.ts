import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const GUARD = fileURLToPath(new URL('../../src/loopback-guard.cjs', import.meta.url));

/** A child process that tries loopback and off-loopback destinations under the guard. */
const SCRIPT = `
const http = require('node:http');
const net = require('node:net');
const dns = require('node:dns');
const outcome = (p) => p.then(() => 'connected', (e) => e.code);
const connect = (opts) => new Promise((resolve, reject) => {
  const s = net.connect(opts, () => { s.end(); resolve(); });
  s.on('error', reject);
});
(async () => {
  const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = server.address().port;
  const results = {
    loopback: await outcome(connect({ host: '127.0.0.1', port })),
    localhost: await outcome(connect({ host: 'localhost', port })),
    privateAddress: await outcome(connect({ host: '10.255.255.1', port: 80 })),
    metadata: await outcome(new Promise((resolve, reject) =>
      http.get('http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/email',
        { headers: { 'Metadata-Flavor': 'Google' } }, resolve).on('error', reject))),
    lookup: await outcome(dns.promises.lookup('metadata.google.internal')),
    fetchName: await outcome(fetch('http://example.com/')),
  };
  server.close();
  console.log(JSON.stringify(results));
})();
`;

describe('the loopback guard', () => {
  it('refuses and records every connection or lookup off 127.0.0.0/8, and only those', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'guard-')), 'off-loopback.jsonl');
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', SCRIPT], {
      env: { ...process.env, NODE_OPTIONS: `--require ${GUARD}`, TOLLGATE_OFF_LOOPBACK_LOG: log },
    });
    expect(JSON.parse(stdout)).toEqual({
      loopback: 'connected',
      localhost: 'connected',
      privateAddress: 'ECONNREFUSED',
      metadata: 'ECONNREFUSED',
      lookup: 'ENOTFOUND',
      fetchName: undefined, // fetch wraps the refusal in a TypeError without a code
    });
    const recorded = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { host: string });
    expect(recorded.map((r) => r.host)).toEqual([
      '10.255.255.1',
      '169.254.169.254',
      'metadata.google.internal',
      'example.com',
    ]);
  });
});
