// Sign in, then the 2FA step for accounts with it on.
import { useState } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../../../generated/gql';
import { post, setSession, signOut, type Tokens } from '../session';
import { signInWithPasskey } from '../passkeys';
import { ErrorText, Page } from '../ui';

const LOGIN = `mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken expiresAt }
}`;

export function SignIn() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" className="center">
      <Page title="Sign in">
        <form
          className="card stack"
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            try {
              const d = await post<{ login: Tokens }>(LOGIN, { email, password });
              setSession({ ...d.login });
            } catch (err) {
              setError(err as Error);
            } finally {
              setBusy(false);
            }
          }}
        >
          <label>
            Email
            <input type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required />
          </label>
          <label>
            Password
            <input type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
          </label>
          <button type="submit" disabled={busy}>Sign in</button>
          <ErrorText error={error} />
          <p className="hint">The demo accounts are listed in the README.</p>
        </form>
      </Page>
    </main>
  );
}

const TwoFactorDoc = graphql(`
  mutation AuthenticateTwoFactor($code: String!) {
    authenticateTwoFactor(code: $code) { accessToken refreshToken expiresAt }
  }
`);

export function TwoFactorStep() {
  const [code, setCode] = useState('');
  const [result, authenticate] = useMutation(TwoFactorDoc);
  const [passkeyError, setPasskeyError] = useState<Error | null>(null);
  return (
    <main id="main" className="center">
      <Page title="Two-factor authentication">
        <form
          className="card stack"
          onSubmit={async (e) => {
            e.preventDefault();
            const r = await authenticate({ code: code.trim() });
            if (r.data) setSession({ ...r.data.authenticateTwoFactor });
          }}
        >
          <label>
            The 6-digit code from your authenticator app
            <input inputMode="numeric" autoComplete="one-time-code" autoFocus value={code} onChange={(e) => setCode(e.target.value)} required />
          </label>
          <button type="submit" disabled={result.fetching}>Verify</button>
          <p className="hint">Or, with a passkey on this device or a security key:</p>
          <button
            type="button"
            onClick={async () => {
              setPasskeyError(null);
              try {
                setSession({ ...(await signInWithPasskey()) });
              } catch (err) {
                setPasskeyError(err as Error);
              }
            }}
          >
            Use a passkey
          </button>
          <button type="button" className="link" onClick={() => void signOut()}>Use another account</button>
          <ErrorText error={result.error ?? passkeyError} />
        </form>
      </Page>
    </main>
  );
}
