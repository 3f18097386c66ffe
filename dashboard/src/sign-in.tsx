import { signInWithEmailAndPassword } from 'firebase/auth';
import { useEffect, useState } from 'preact/hooks';
import type { Backend } from './firebase.ts';

/** Signed-out users: email and password (Firebase Auth), and the public health of the project. */
export function SignIn({ backend }: { backend: Backend }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [health, setHealth] = useState<string>('…');
  useEffect(() => {
    fetch('/api/health')
      .then(async (r) => ((await r.json()) as { status?: string }).status ?? `HTTP ${r.status}`)
      .catch(() => 'unreachable')
      .then(setHealth);
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signInWithEmailAndPassword(backend.auth, email, password);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Tollgate</h1>
      <p>Quota control plane — sign in to see where every quota, collection and cooldown stands.</p>
      <form onSubmit={submit} aria-label="Sign in">
        <label>
          Email
          <input
            type="email"
            name="email"
            autocomplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            type="password"
            name="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
      {backend.emulators && (
        <p class="note">
          Local stack (Auth emulator): the demo users are demo-operator@tollgate.local and
          demo-viewer@tollgate.local, password tollgate-local; <code>npm start</code> prints a
          sign-in link.
        </p>
      )}
      <p class="note">
        Deployment status: <strong data-testid="public-health">{health}</strong>
      </p>
    </main>
  );
}
