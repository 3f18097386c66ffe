import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApiFixture, apiFixture, auditEntries } from '../../functions/test/api/support.ts';
import { runCli } from '../src/program.ts';
import { type AdcAuth, adcPrincipal, LOCAL_ACTOR_EMAIL, type Target } from '../src/session.ts';

/**
 * Who the CLI writes into audit entries: the signed-in Application Default Credentials
 * principal, never $TOLLGATE_ACTOR_EMAIL or the OS user; the local stack's fixed local actor.
 * Nothing here reaches Google: ADC is a fake.
 */

const PROJECT: Target = { projectId: 'demo-p', local: false };

function fakeAuth(answers: {
  clientEmail?: string;
  tokenEmail?: string;
  credentialsFail?: boolean;
}): { auth: () => Promise<AdcAuth>; calls: string[] } {
  const calls: string[] = [];
  const auth = async (): Promise<AdcAuth> => ({
    getCredentials: async () => {
      calls.push('getCredentials');
      if (answers.credentialsFail) throw new Error('no credentials file');
      return { client_email: answers.clientEmail };
    },
    getClient: async () => ({
      getAccessToken: async () => {
        calls.push('getAccessToken');
        return { token: 'ya29.token' };
      },
      getTokenInfo: async (token: string) => {
        calls.push(`getTokenInfo ${token}`);
        return answers.tokenEmail ? { email: answers.tokenEmail } : {};
      },
    }),
  });
  return { auth, calls };
}

describe('the ADC principal', () => {
  it("is a service account's email from its credentials", async () => {
    const { auth, calls } = fakeAuth({ clientEmail: 'ops-bot@p.iam.gserviceaccount.com' });
    expect(await adcPrincipal(auth)(PROJECT)).toBe('ops-bot@p.iam.gserviceaccount.com');
    expect(calls).toEqual(['getCredentials']);
  });

  it("is a signed-in user's email from the token (gcloud auth application-default login)", async () => {
    const { auth, calls } = fakeAuth({ tokenEmail: 'alice@example.com', credentialsFail: true });
    expect(await adcPrincipal(auth)(PROJECT)).toBe('alice@example.com');
    expect(calls).toEqual(['getCredentials', 'getAccessToken', 'getTokenInfo ya29.token']);
  });

  it('refuses to guess when the credentials name nobody', async () => {
    const { auth } = fakeAuth({});
    await expect(adcPrincipal(auth)(PROJECT)).rejects.toThrow(/cannot tell who/);
  });

  it('is the explicit local actor on the local stack, without asking Google', async () => {
    const { auth, calls } = fakeAuth({ clientEmail: 'x@y' });
    const resolve = adcPrincipal(auth);
    expect(await resolve({ projectId: 'demo-tollgate', local: true })).toBe(LOCAL_ACTOR_EMAIL);
    expect(
      await resolve({ projectId: 'demo-p', local: false, firestoreEmulator: '127.0.0.1:8080' }),
    ).toBe(LOCAL_ACTOR_EMAIL);
    expect(calls).toEqual([]);
  });
});

describe('the actor in audit entries', () => {
  let fixture: ApiFixture;
  beforeEach(async () => {
    fixture = await apiFixture();
  });
  afterEach(() => fixture.close());

  async function clearCooldownAs(args: string[], env: Record<string, string>) {
    let stderr = '';
    const code = await runCli([...args, 'cooldown', 'clear', 'keepa'], {
      stdout: { write: () => true },
      stderr: { write: (s: string) => (stderr += s) },
      env,
      connect: async (target) => ({
        projectId: target.projectId,
        deps: fixture.deps,
        close: async () => {},
      }),
    });
    expect(code, stderr).toBe(0);
    const [entry] = (await auditEntries(fixture.db)).filter((e) => e.what === 'clearCooldown');
    return entry!.who;
  }

  it('--local: the local actor, whatever $TOLLGATE_ACTOR_EMAIL or the OS user say', async () => {
    // The default principal lookup: on the local stack it never reaches the network.
    const who = await clearCooldownAs(['--local'], {
      TOLLGATE_ACTOR_EMAIL: 'ceo@example.com',
      USER: 'root',
    });
    expect(who).toEqual({ uid: 'cli', email: LOCAL_ACTOR_EMAIL, role: 'admin' });
  });
});
