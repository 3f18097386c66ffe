import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deleteApp, type FirebaseApp, FirebaseError, initializeApp } from 'firebase/app';
import { connectFunctionsEmulator, getFunctions } from 'firebase/functions';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type CallableName,
  callableNames,
  callLimitWaitMs,
  createTollgateClient,
  DEFAULT_TIMEOUTS_MS,
  type StatusResult,
  startCollectionInput,
  TIMEOUT_SECONDS,
  type TollgateClient,
  TollgateInputError,
  validateInput,
} from '../src/index.ts';

/**
 * The client against a stand-in for the Functions emulator that speaks the callable protocol
 * (POST {data} -> {result} | {error: {status, message}}), so what reaches the wire is seen.
 * The end-to-end test (client.e2e.test.ts) runs it against the real functions.
 */

const requests: Array<{ name: string; body: unknown; auth?: string }> = [];
const answers = new Map<string, { status: number; body: unknown }>();
let server: Server;
let app: FirebaseApp;
let tollgate: TollgateClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const name = req.url!.split('/').pop()!;
      requests.push({ name, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const answer = answers.get(name) ?? { status: 200, body: { result: { name } } };
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  app = initializeApp({ projectId: 'demo-client', apiKey: 'fake-api-key' }, 'client-unit');
  const functions = getFunctions(app, 'us-central1');
  connectFunctionsEmulator(functions, '127.0.0.1', (server.address() as AddressInfo).port);
  tollgate = createTollgateClient(functions);
});

afterAll(async () => {
  await deleteApp(app);
  await new Promise((resolve) => server.close(resolve));
});

describe('createTollgateClient', () => {
  it('has one method per callable of the registry', () => {
    expect(Object.keys(tollgate).sort()).toEqual([...callableNames].sort());
    for (const name of callableNames) expect(typeof tollgate[name]).toBe('function');
  });

  it('calls the function of the same name, a missing input sent as {}', async () => {
    requests.length = 0;
    answers.set('getStatus', { status: 200, body: { result: { projectId: 'demo-client' } } });
    const status = await tollgate.getStatus();
    expect(status.projectId).toBe('demo-client');
    expect(requests).toEqual([{ name: 'getStatus', body: { data: {} } }]);
  });

  it('sends a valid input as given', async () => {
    requests.length = 0;
    const input = {
      id: 'deals-2026',
      provider: 'keepa',
      category: 'keepa-deals',
      targets: { 'amazon-de': 300 },
    };
    await tollgate.startCollection(input);
    expect(requests).toEqual([{ name: 'startCollection', body: { data: input } }]);
  });

  it('refuses an invalid input before any request, naming the field', async () => {
    requests.length = 0;
    const call = tollgate.startCollection({
      id: 'deals-2026',
      provider: 'keepa',
      category: 'keepa-deals',
      targets: { takealot: 0 },
    });
    await expect(call).rejects.toBeInstanceOf(TollgateInputError);
    const error = (await call.catch((e: unknown) => e)) as TollgateInputError;
    expect(error.code).toBe('invalid-argument');
    expect(error.callable).toBe('startCollection');
    expect(error.field).toBe('targets.takealot');
    expect(error.message).toContain('targets.takealot');
    expect(requests).toEqual([]);
  });

  it('names an unknown key and a wrong type', async () => {
    const extra = await tollgate
      .getStatus({ usageWindowMinutes: 5, verbose: true } as never)
      .catch((e: unknown) => e);
    expect(extra).toBeInstanceOf(TollgateInputError);
    expect((extra as TollgateInputError).field).toBe('verbose');
    const wrong = await tollgate
      .setMaintenanceMode({ enabled: 'yes' as never })
      .catch((e: unknown) => e);
    expect((wrong as TollgateInputError).field).toBe('enabled');
    expect(requests).toEqual([]);
  });

  it("surfaces the SDK's FirebaseError unchanged", async () => {
    answers.set('pauseCategory', {
      status: 403,
      body: {
        error: {
          status: 'PERMISSION_DENIED',
          message: 'pauseCategory needs the operator role',
          details: { required: 'operator', role: 'viewer' },
        },
      },
    });
    const error = await tollgate.pauseCategory({ category: 'keepa-deals' }).catch((e) => e);
    expect(error).toBeInstanceOf(FirebaseError);
    expect(error.code).toBe('functions/permission-denied');
    expect(error.message).toContain('pauseCategory needs the operator role');
    expect(error.details).toEqual({ required: 'operator', role: 'viewer' });
  });

  it('validates with the same schemas it exports', () => {
    expect(() => validateInput('getCollectionStatus', { id: 'Bad Id' })).toThrow(/^.*id: /);
    expect(() => validateInput('getStatus', undefined)).not.toThrow();
    expect(
      startCollectionInput.safeParse({ id: 'a', provider: 'b', category: 'c', targets: {} })
        .success,
    ).toBe(false);
  });

  it("waits for every callable longer than its function may run (the SDK's own wait is 70 s)", () => {
    const sdkDefaultMs = 70_000;
    const short = Object.entries(TIMEOUT_SECONDS).filter(
      ([name, seconds]) =>
        (DEFAULT_TIMEOUTS_MS[name as CallableName] ?? sdkDefaultMs) <= seconds! * 1000,
    );
    expect(short).toEqual([]);
    expect(DEFAULT_TIMEOUTS_MS).toMatchObject({ simulatePolicy: 550_000, forceFlush: 310_000 });
  });

  it('types every method by the registry', () => {
    expectTypeOf(tollgate.getStatus).returns.resolves.toEqualTypeOf<StatusResult>();
    expectTypeOf(tollgate.getStatus)
      .parameter(0)
      .toEqualTypeOf<{ usageWindowMinutes?: number | undefined } | undefined>();
    expectTypeOf<keyof TollgateClient>().toEqualTypeOf<CallableName>();
    // Required inputs cannot be left out; unknown keys and wrong types do not compile.
    // @ts-expect-error startCollection needs its input
    void (() => tollgate.startCollection());
    // @ts-expect-error sharePercent is a number
    void (() => tollgate.setCategoryAllocation({ category: 'a', sharePercent: '5' }));
  });
});

describe('callLimitWaitMs', () => {
  it('reads the wait of a call-limit refusal and nothing else', () => {
    const refusal = { code: 'functions/resource-exhausted', details: { retryAfterMs: 250 } };
    expect(callLimitWaitMs(refusal)).toBe(250);
    expect(callLimitWaitMs({ ...refusal, code: 'functions/internal' })).toBeUndefined();
    expect(
      callLimitWaitMs({ code: 'functions/resource-exhausted', details: null }),
    ).toBeUndefined();
    expect(
      callLimitWaitMs({ code: 'functions/resource-exhausted', details: { retryAfterMs: '9' } }),
    ).toBeUndefined();
    expect(callLimitWaitMs(undefined)).toBeUndefined();
  });
});
