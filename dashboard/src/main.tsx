import { roleFromClaims } from '@tollgate/client';
import { onIdTokenChanged, type User } from 'firebase/auth';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Shell } from './app.tsx';
import { type Backend, connectBackend, signInFromLink } from './firebase.ts';
import { SignIn } from './sign-in.tsx';
import './styles.css';

/** Marks the first render of the overview for the browser test (performance.measure). */
declare global {
  interface Window {
    __tollgateFirstRenderMs?: number;
  }
}

type Session =
  | { state: 'loading' }
  | { state: 'signed-out' }
  | { state: 'signed-in'; user: User; role: ReturnType<typeof roleFromClaims> };

function Root({ backend }: { backend: Backend }) {
  const [session, setSession] = useState<Session>({ state: 'loading' });
  useEffect(
    () =>
      onIdTokenChanged(backend.auth, (user) => {
        if (!user) {
          setSession({ state: 'signed-out' });
          return;
        }
        void user
          .getIdTokenResult()
          .then((token) =>
            setSession({ state: 'signed-in', user, role: roleFromClaims(token.claims) }),
          );
      }),
    [backend],
  );
  if (session.state === 'loading') return <p class="pad">Loading…</p>;
  if (session.state === 'signed-out') return <SignIn backend={backend} />;
  return <Shell backend={backend} user={session.user} role={session.role} />;
}

async function boot() {
  const root = document.getElementById('app')!;
  try {
    const backend = await connectBackend();
    await signInFromLink(backend).catch((error: Error) => {
      console.error(`sign-in link: ${error.message}`);
    });
    render(<Root backend={backend} />, root);
  } catch (error) {
    root.innerHTML = '';
    const p = document.createElement('p');
    p.className = 'pad error';
    p.setAttribute('role', 'alert');
    p.textContent = `Tollgate could not start: ${(error as Error).message}`;
    root.append(p);
  }
}

void boot();
