import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { OperationDeps } from '../../src/adapters/operations';
import { createCallables } from '../../src/entry/operations/define';

/**
 * ENFORCE_APP_CHECK (a deploy-time boolean parameter, default true, false only in the local
 * stack's emulator-only functions/.env.local) decides whether the
 * callables refuse requests without an App Check token. Exercised through the HTTP handler the
 * Functions runtime calls, with a request that carries neither App Check nor Auth.
 */

const deps = {} as OperationDeps; // never reached: the request is refused before the handler

function post(fn: (req: unknown, res: unknown) => unknown) {
  return new Promise<{ status: number; body: unknown }>((resolve) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const req = {
      method: 'POST',
      url: '/',
      headers,
      header: (name: string) => headers[name.toLowerCase()],
      get: (name: string) => headers[name.toLowerCase()],
      body: { data: {} },
    };
    const res = {
      statusCode: 200,
      body: undefined as unknown,
      headers: {} as Record<string, unknown>,
      status(code: number) {
        this.statusCode = code;
        return this;
      },
      send(body: unknown) {
        this.body = body;
        resolve({ status: this.statusCode, body });
        return this;
      },
      json(body: unknown) {
        return this.send(body);
      },
      setHeader(name: string, value: unknown) {
        this.headers[name.toLowerCase()] = value;
      },
      getHeader(name: string) {
        return this.headers[name.toLowerCase()];
      },
      end() {
        resolve({ status: this.statusCode, body: this.body });
      },
      on() {},
      write() {
        return true;
      },
    };
    void fn(req, res);
  });
}

describe('App Check enforcement', () => {
  afterEach(() => {
    delete process.env.ENFORCE_APP_CHECK;
  });

  it('refuses a request without an App Check token by default (true in functions/.env)', async () => {
    // A deploy resolves the param from functions/.env into the environment.
    const deployed = /^ENFORCE_APP_CHECK=(.*)$/m.exec(
      readFileSync(join(__dirname, '..', '..', '.env'), 'utf8'),
    )?.[1];
    expect(deployed).toBe('true');
    process.env.ENFORCE_APP_CHECK = deployed;
    const { getStatus } = createCallables(deps);
    const response = await post(getStatus as never);
    expect(response.status).toBe(401);
    expect(JSON.stringify(response.body)).toContain('UNAUTHENTICATED');
    // Refused by the runtime before the handler ran.
    expect(JSON.stringify(response.body)).not.toContain('needs a signed-in user');
  });

  it('lets it through to the role check when the local stack turns it off', async () => {
    process.env.ENFORCE_APP_CHECK = 'false';
    const { getStatus } = createCallables(deps);
    const response = await post(getStatus as never);
    // No Auth token either: the handler's own check answers, naming the callable.
    expect(response.status).toBe(401);
    expect(JSON.stringify(response.body)).toContain('getStatus needs a signed-in user');
  });
});
