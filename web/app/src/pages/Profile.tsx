// Profile Settings: name, the support-access consent, 2FA enrolment with the QR code, and the
// password. While impersonating, the customer's security and consent settings are disabled
// (the server refuses them too) and say why.
import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../../../generated/gql';
import { MeDoc, isAdmin, type Me } from '../me';
import { addPasskey, passkeyAnswer, signInWithPasskey } from '../passkeys';
import { setSession } from '../session';
import { ErrorText, Page, ReadOnlyNote, useReadOnly } from '../ui';
import { when } from '../words';

const UpdateDoc = graphql(`
  mutation UpdateProfile($input: UpdateProfileInput!) {
    updateProfile(input: $input) { id name impersonationAllowed impersonationRequiresApproval }
  }
`);
const GenerateDoc = graphql(`
  mutation GenerateTwoFactorSecret { generateTwoFactorSecret { otpauthUrl qrCode } }
`);
const TurnOnDoc = graphql(`
  mutation TurnOnTwoFactor($code: String!, $password: String!, $proof: StepUp) {
    turnOnTwoFactor(code: $code, password: $password, proof: $proof) { accessToken refreshToken expiresAt }
  }
`);
const TurnOffDoc = graphql(`
  mutation TurnOffTwoFactor($code: String!) { turnOffTwoFactor(code: $code) }
`);
const DeletePasskeyDoc = graphql(`
  mutation DeletePasskey($id: ID!, $password: String!) { deletePasskey(id: $id, password: $password) }
`);
const PasswordDoc = graphql(`
  mutation ChangePassword($currentPassword: String!, $newPassword: String!) {
    changePassword(currentPassword: $currentPassword, newPassword: $newPassword)
  }
`);

export function Profile({ me }: { me: Me }) {
  const impersonating = !!me.impersonatedBy;
  const [name, setName] = useState(me.name);
  const [savedName, updateName] = useMutation(UpdateDoc);
  const readOnly = useReadOnly(me.impersonation?.mode);
  const locked = impersonating ? 'protected-why' : undefined;
  return (
    <Page title="Profile settings">
      {impersonating && (
        <p id="protected-why" className="hint" role="note">
          Password, two-factor and support-access settings are {me.name.split(' ')[0]}'s own: they are disabled during a support session.
        </p>
      )}
      <form className="card stack" onSubmit={async (e) => { e.preventDefault(); await updateName({ input: { name } }); }}>
        <h2>Name</h2>
        <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} readOnly={readOnly} aria-describedby={readOnly ? 'name-ro' : undefined} /></label>
        <button type="submit" disabled={readOnly || savedName.fetching || name.trim() === me.name}>Save name</button>
        {readOnly && <ReadOnlyNote id="name-ro" />}
        {savedName.data && !savedName.error && <p role="status">Name saved.</p>}
        <ErrorText error={savedName.error} />
      </form>
      <Consent me={me} disabled={impersonating} describedBy={locked} />
      <TwoFactor me={me} disabled={impersonating} describedBy={locked} />
      <Passkeys me={me} disabled={impersonating} describedBy={locked} />
      <Password disabled={impersonating} describedBy={locked} />
    </Page>
  );
}

/** The support-access consent. The boxes show what the server saved (the signed-in user in
 *  the normalized cache, which `updateProfile`'s answer updates): while a change is on its
 *  way the box shows it, and once the answer is in, what was saved; a refusal puts it back. */
function Consent({ me, disabled, describedBy }: { me: Me; disabled: boolean; describedBy?: string }) {
  const [pending, setPending] = useState<{ allowed?: boolean; approval?: boolean } | null>(null);
  const [saved, update] = useMutation(UpdateDoc);
  const [status, setStatus] = useState<string | null>(null);
  const allowed = pending?.allowed ?? me.impersonationAllowed;
  const approval = pending?.approval ?? me.impersonationRequiresApproval;
  const change = async (input: { impersonationAllowed?: boolean; impersonationRequiresApproval?: boolean }) => {
    setPending({ allowed: input.impersonationAllowed, approval: input.impersonationRequiresApproval });
    setStatus(null);
    const r = await update({ input });
    setPending(null);
    if (r.data) {
      const u = r.data.updateProfile;
      setStatus(
        !u.impersonationAllowed
          ? 'Saved: support access is off. Nobody from support can enter your account.'
          : u.impersonationRequiresApproval
            ? 'Saved: support can enter only with your approval.'
            : 'Saved: support may enter, and you are told each time.',
      );
    }
  };
  return (
    <fieldset className="card stack" disabled={disabled} aria-describedby={describedBy}>
      <legend>Support access to your account</legend>
      <label className="check">
        <input
          type="checkbox"
          data-testid="consent-allowed"
          checked={allowed}
          disabled={saved.fetching}
          onChange={(e) => void change({ impersonationAllowed: e.target.checked })}
        />
        Support staff may sign in as me (turning this off ends any session in my account)
      </label>
      <label className="check">
        <input
          type="checkbox"
          data-testid="consent-approval"
          checked={approval}
          disabled={saved.fetching || !allowed}
          onChange={(e) => void change({ impersonationRequiresApproval: e.target.checked })}
        />
        Ask me to approve each session
      </label>
      {status && <p role="status" data-testid="consent-status">{status}</p>}
      <ErrorText error={saved.error} />
    </fieldset>
  );
}

function TwoFactor({ me, disabled, describedBy }: { me: Me; disabled: boolean; describedBy?: string }) {
  const [secret, generate] = useMutation(GenerateDoc);
  const [on, turnOn] = useMutation(TurnOnDoc);
  const [off, turnOff] = useMutation(TurnOffDoc);
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [done, setDone] = useState<string | null>(null);
  return (
    <fieldset className="card stack" disabled={disabled} aria-describedby={describedBy}>
      <legend>Two-factor authentication</legend>
      {me.isTotpEnabled ? (
        <form className="stack" onSubmit={async (e) => { e.preventDefault(); const r = await turnOff({ code }); if (r.data) setDone('Two-factor authentication is off.'); }}>
          <p>On. To turn it off, enter a current code.</p>
          <label>Code<input inputMode="numeric" value={code} onChange={(e) => setCode(e.target.value)} required /></label>
          <button type="submit">Turn off</button>
        </form>
      ) : secret.data ? (
        <form
          className="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            // Beside a passkey, the passkey proves the new authenticator is wanted.
            let proof = null;
            try {
              proof = me.passkeys.length > 0 ? { passkey: await passkeyAnswer('ADD_FACTOR') } : null;
            } catch (err) {
              setDone((err as Error).message);
              return;
            }
            const r = await turnOn({ code, password, proof });
            if (r.data) {
              setSession({ ...r.data.turnOnTwoFactor, flash: 'Two-factor authentication is on.' });
            }
          }}
        >
          <p>Scan this code with your authenticator app, then enter the code it shows.</p>
          <img className="qr" src={secret.data.generateTwoFactorSecret.qrCode} alt="QR code of your new authenticator secret" width={180} height={180} />
          <details><summary>Can't scan it?</summary><code className="wrap">{secret.data.generateTwoFactorSecret.otpauthUrl}</code></details>
          <label>Code<input inputMode="numeric" autoComplete="one-time-code" autoFocus value={code} onChange={(e) => setCode(e.target.value)} required /></label>
          <label>Current password<input type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required /></label>
          {me.passkeys.length > 0 && <p className="hint">You will also confirm with one of your passkeys.</p>}
          <button type="submit">Turn on</button>
        </form>
      ) : (
        <div className="stack">
          <p>Off. With it on, signing in also asks for a code from an app on your phone, so a stolen password is not enough.{isAdmin(me) ? ' Admins need it to sign in as a customer.' : ''}</p>
          <button type="button" onClick={() => void generate({})}>Set up two-factor authentication</button>
        </div>
      )}
      {done && <p role="status">{done}</p>}
      <ErrorText error={secret.error ?? on.error ?? off.error} />
    </fieldset>
  );
}

/** Passkeys: the list, add (a name and the password), remove (the password). A first second
 *  factor signs the other devices out, so the console signs in again with the new passkey. */
function Passkeys({ me, disabled, describedBy }: { me: Me; disabled: boolean; describedBy?: string }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [proofCode, setProofCode] = useState('');
  const [removing, setRemoving] = useState<string | null>(null);
  const [removePassword, setRemovePassword] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [, refetchMe] = useQuery({ query: MeDoc, pause: true });
  const [removed, remove] = useMutation(DeletePasskeyDoc);
  const reload = () => refetchMe({ requestPolicy: 'network-only' });
  return (
    <fieldset className="card stack" disabled={disabled} aria-describedby={describedBy}>
      <legend>Passkeys</legend>
      <p className="hint">A passkey signs you in with this device's screen lock or a security key: nothing to type, and a fake site cannot use it.</p>
      {me.passkeys.length === 0 ? (
        <p>No passkeys yet.</p>
      ) : (
        <ul className="stack" aria-label="Your passkeys">
          {me.passkeys.map((p) => (
            <li key={p.id} data-testid="passkey" className="stack">
              <span><strong>{p.name}</strong> · added {when(p.createdAt)} · {p.lastUsedAt ? `last used ${when(p.lastUsedAt)}` : 'not used yet'}</span>
              {removing === p.id ? (
                <form
                  className="row"
                  onSubmit={async (e) => {
                    e.preventDefault();
                    const r = await remove({ id: p.id, password: removePassword });
                    if (r.data) {
                      setRemoving(null);
                      setRemovePassword('');
                      setStatus(`Passkey “${p.name}” removed.`);
                      reload();
                    }
                  }}
                >
                  <label>Current password<input type="password" autoComplete="current-password" value={removePassword} onChange={(e) => setRemovePassword(e.target.value)} required /></label>
                  <button type="submit" className="danger">Remove {p.name}</button>
                  <button type="button" className="link" onClick={() => setRemoving(null)}>Cancel</button>
                </form>
              ) : (
                <button type="button" className="link" onClick={() => setRemoving(p.id)}>Remove <span className="sr-only">{p.name}</span></button>
              )}
            </li>
          ))}
        </ul>
      )}
      <form
        className="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          setStatus(null);
          try {
            const first = !me.isTwoFactorEnabled;
            // A second factor is added only with a fresh proof of the one already held.
            const proof = me.passkeys.length > 0
              ? { passkey: await passkeyAnswer('ADD_FACTOR') }
              : me.isTotpEnabled ? { code: proofCode } : null;
            await addPasskey(name.trim(), password, proof);
            setName('');
            setPassword('');
            setProofCode('');
            if (first) {
              // Two-factor authentication just came on: sign in with the new passkey.
              setSession({ ...(await signInWithPasskey()), flash: 'Passkey added. Two-factor authentication is on.' });
            } else {
              setStatus('Passkey added.');
              reload();
            }
          } catch (err) {
            setError(err as Error);
          }
        }}
      >
        <label>Passkey name<input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} placeholder="Work laptop" /></label>
        <label>Current password<input type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required /></label>
        {me.passkeys.length === 0 && me.isTotpEnabled && (
          <label>A new code from your authenticator app<input inputMode="numeric" autoComplete="one-time-code" value={proofCode} onChange={(e) => setProofCode(e.target.value)} required /></label>
        )}
        {me.passkeys.length > 0 && <p className="hint">You will confirm with one of your passkeys first.</p>}
        <button type="submit">Add a passkey</button>
      </form>
      {status && <p role="status">{status}</p>}
      <ErrorText error={error ?? removed.error} />
    </fieldset>
  );
}

function Password({ disabled, describedBy }: { disabled: boolean; describedBy?: string }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [result, change] = useMutation(PasswordDoc);
  return (
    <fieldset className="card" disabled={disabled} aria-describedby={describedBy}>
      <legend>Password</legend>
      <form className="stack" onSubmit={async (e) => { e.preventDefault(); const r = await change({ currentPassword: current, newPassword: next }); if (r.data) { setCurrent(''); setNext(''); } }}>
        <label>Current password<input type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required /></label>
        <label>New password<input type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required minLength={8} maxLength={128} /></label>
        <button type="submit">Change password</button>
        {result.data && <p role="status">Password changed. Other sessions are signed out.</p>}
        <ErrorText error={result.error} />
      </form>
    </fieldset>
  );
}
