/**
 * Users of the local Auth emulator with a role claim, for the demo, the CLI against the local
 * stack and end-to-end tests: signs up (or in), sets the custom claims with the emulator's
 * owner credentials, and signs in again so the ID token carries them.
 */

export type Role = 'viewer' | 'operator' | 'admin';

export interface SignedIn {
  uid: string;
  email: string;
  idToken: string;
}

const API_KEY = 'fake-api-key'; // the emulator accepts any key
/** The password of every local user (the Auth emulator only). */
export const DEMO_PASSWORD = 'tollgate-local';
const PASSWORD = DEMO_PASSWORD;

async function post(url: string, body: unknown, owner = false): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(owner ? { authorization: 'Bearer owner' } : {}),
    },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`auth emulator ${url}: ${JSON.stringify(json)}`);
  return json;
}

export async function signInWithRole(
  authUrl: string,
  projectId: string,
  email: string,
  role: Role | null,
): Promise<SignedIn> {
  const base = `${authUrl}/identitytoolkit.googleapis.com/v1`;
  const credentials = { email, password: PASSWORD, returnSecureToken: true };
  let account: Record<string, unknown>;
  try {
    account = await post(`${base}/accounts:signUp?key=${API_KEY}`, credentials);
  } catch {
    account = await post(`${base}/accounts:signInWithPassword?key=${API_KEY}`, credentials);
  }
  const uid = account.localId as string;
  await post(
    `${base}/projects/${projectId}/accounts:update`,
    { localId: uid, customAttributes: JSON.stringify(role ? { role } : {}) },
    true,
  );
  const signedIn = await post(`${base}/accounts:signInWithPassword?key=${API_KEY}`, credentials);
  return { uid, email, idToken: signedIn.idToken as string };
}

/**
 * A link that opens the dashboard on the Hosting emulator signed in as a local user: the page
 * honours `#signin=` only while it is connected to the Auth emulator (dashboard/src/firebase.ts).
 */
export function dashboardSignInLink(hostingUrl: string, email: string): string {
  const fragment = new URLSearchParams({ signin: email, password: PASSWORD }).toString();
  return `${hostingUrl}/#${fragment}`;
}

/** Calls a callable function over HTTP, as the Firebase client SDKs do. */
export async function callCallable(
  functionsBase: string,
  name: string,
  data: unknown,
  idToken?: string,
): Promise<{ status: number; result?: unknown; error?: { status: string; message: string } }> {
  const response = await fetch(`${functionsBase}/${name}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(idToken ? { authorization: `Bearer ${idToken}` } : {}),
    },
    body: JSON.stringify({ data }),
  });
  const body = (await response.json()) as {
    result?: unknown;
    error?: { status: string; message: string };
  };
  return { status: response.status, ...body };
}
