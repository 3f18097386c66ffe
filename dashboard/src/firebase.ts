import { createTollgateClient, type TollgateClient } from '@tollgate/client';
import { type FirebaseApp, type FirebaseOptions, initializeApp } from 'firebase/app';
import {
  type Auth,
  browserLocalPersistence,
  connectAuthEmulator,
  initializeAuth,
  signInWithEmailAndPassword,
} from 'firebase/auth';
import { connectFunctionsEmulator, getFunctions } from 'firebase/functions';

/**
 * Where the page finds its Firebase project. Firebase Hosting serves the web app's config at
 * the reserved `/__/firebase/init.json` (in production from the project's registered web app;
 * the Hosting emulator serves a demo config for `demo-` projects). On a loopback host the page
 * is on the local stack: the Hosting emulator's `/__/firebase/init.js?useEmulator=true` names
 * the running emulators (their ports differ between `npm start` and the tests), and the page
 * connects Auth and Functions to them. Nowhere else does the page touch an emulator.
 */

export const REGION = 'us-central1';

export interface Emulators {
  auth: { host: string; port: number };
  functions: { host: string; port: number };
}

export interface Backend {
  app: FirebaseApp;
  auth: Auth;
  client: TollgateClient;
  projectId: string;
  /** Null in production. */
  emulators: Emulators | null;
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** The `var firebaseEmulators = {...};` object of the Hosting emulator's init.js. */
export function parseEmulators(initJs: string): Emulators | null {
  const match = /var firebaseEmulators = (\{[\s\S]*?\n\});/.exec(initJs);
  if (!match) return null;
  try {
    const parsed = JSON.parse(match[1]!) as Partial<Emulators>;
    if (!parsed.auth || !parsed.functions) return null;
    return {
      auth: { host: parsed.auth.host, port: parsed.auth.port },
      functions: { host: parsed.functions.host, port: parsed.functions.port },
    };
  } catch {
    return null;
  }
}

async function loadConfig(): Promise<{ options: FirebaseOptions; emulators: Emulators | null }> {
  const response = await fetch('/__/firebase/init.json');
  if (!response.ok) throw new Error(`/__/firebase/init.json: HTTP ${response.status}`);
  const options = (await response.json()) as FirebaseOptions;
  let emulators: Emulators | null = null;
  if (isLoopbackHost(location.hostname)) {
    const js = await fetch('/__/firebase/init.js?useEmulator=true').then((r) => r.text());
    emulators = parseEmulators(js);
  }
  // The Hosting emulator's demo config may carry no API key; the Auth emulator takes any.
  if (emulators && !options.apiKey) options.apiKey = 'fake-api-key';
  return { options, emulators };
}

export async function connectBackend(): Promise<Backend> {
  const { options, emulators } = await loadConfig();
  const app = initializeApp(options);
  const auth = initializeAuth(app, { persistence: browserLocalPersistence });
  const functions = getFunctions(app, REGION);
  if (emulators) {
    const host = emulators.auth.host === '0.0.0.0' ? '127.0.0.1' : emulators.auth.host;
    connectAuthEmulator(auth, `http://${host}:${emulators.auth.port}`, { disableWarnings: true });
    connectFunctionsEmulator(functions, emulators.functions.host, emulators.functions.port);
  }
  const siteKey = import.meta.env.VITE_RECAPTCHA_ENTERPRISE_SITE_KEY as string | undefined;
  if (siteKey && !emulators) {
    // Production callables enforce App Check (functions/.env ENFORCE_APP_CHECK); loaded only
    // when a site key was given at build time, so it costs the page nothing otherwise.
    const appCheck = await import('firebase/app-check');
    appCheck.initializeAppCheck(app, {
      provider: new appCheck.ReCaptchaEnterpriseProvider(siteKey),
      isTokenAutoRefreshEnabled: true,
    });
  }
  return {
    app,
    auth,
    client: createTollgateClient(functions),
    projectId: options.projectId ?? '',
    emulators,
  };
}

/**
 * The local stack's sign-in link (`npm start` prints it): `#signin=<email>&password=<pw>`.
 * Honoured only while the page is connected to the Auth emulator: in production the fragment
 * is ignored (and removed), so no link can sign anyone in there.
 */
export function linkCredentials(
  hash: string,
  emulators: Emulators | null,
): { email: string; password: string } | null {
  if (!emulators || !hash.startsWith('#signin=')) return null;
  const params = new URLSearchParams(hash.slice(1));
  const email = params.get('signin');
  const password = params.get('password');
  return email && password ? { email, password } : null;
}

export async function signInFromLink(backend: Backend): Promise<boolean> {
  if (!location.hash.startsWith('#signin=')) return false;
  const credentials = linkCredentials(location.hash, backend.emulators);
  // The credentials leave the address bar (and the history) at once, used or not.
  history.replaceState(null, '', `${location.pathname}${location.search}#/`);
  if (!credentials) return false;
  await signInWithEmailAndPassword(backend.auth, credentials.email, credentials.password);
  return true;
}
