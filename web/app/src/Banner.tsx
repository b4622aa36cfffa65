// The banner on every page while impersonating: who, the mode, the time left, Stop and
// Elevate. It listens to `currentImpersonation`: when the session ends (stopped elsewhere,
// revoked by the customer, ended by an admin, expired) the console returns the admin to
// their own account within seconds.
import { useEffect, useState } from 'react';
import { useMutation, useSubscription } from 'urql';
import { useLocation } from 'wouter';
import { graphql } from '../../generated/gql';
import type { Me } from './me';
import { returnToOwnAccount, setSession, useSession } from './session';
import { passkeyAnswer, type StepUpInput } from './passkeys';
import { ErrorText, MODE_EVENT, useNow } from './ui';
import { endReason, left, mode } from './words';

const CurrentDoc = graphql(`
  subscription CurrentImpersonation {
    currentImpersonation { kind at impersonation { id mode expiresAt endReason } }
  }
`);
const StopDoc = graphql(`
  mutation Stop { cancelImpersonation { accessToken refreshToken expiresAt } }
`);
const ElevateDoc = graphql(`
  mutation Elevate($code: String, $reason: String!, $stepUp: StepUp) {
    elevateImpersonation(code: $code, reason: $reason, stepUp: $stepUp) { id mode }
  }
`);

export function Banner({ me }: { me: Me }) {
  const imp = me.impersonation!;
  const now = useNow();
  const session = useSession();
  const [, navigate] = useLocation();
  const [stopped, stop] = useMutation(StopDoc);
  const [elevated, elevate] = useMutation(ElevateDoc);
  const [live, setLive] = useState<{ mode: string; expiresAt: string }>({ mode: imp.mode, expiresAt: imp.expiresAt });
  const [asking, setAsking] = useState(false);
  const [code, setCode] = useState('');
  const [reason, setReason] = useState('');
  const [warned, setWarned] = useState(false);
  const [confirmed, setConfirmed] = useState(false);
  const [passkeyError, setPasskeyError] = useState<Error | null>(null);
  // Elevation takes a fresh proof: the admin's code, or their passkey.
  const allow = async (stepUp?: StepUpInput) => {
    const r = await elevate({ reason, stepUp: stepUp ?? null });
    if (r.data) {
      setLive((l) => ({ ...l, mode: r.data!.elevateImpersonation.mode }));
      setAsking(false);
      setCode('');
      setConfirmed(true);
    }
  };
  const first = me.name.split(' ')[0];
  // Only what this deployment accepts (IMPERSONATION_STEP_UP): a code field that always
  // fails is not offered.
  const totp = imp.elevateProofs.includes('TOTP');
  const passkey = imp.elevateProofs.includes('PASSKEY');

  useSubscription({ query: CurrentDoc }, (_prev, ev) => {
    const e = ev.currentImpersonation;
    const session = e.impersonation;
    if (!session) return ev;
    if (e.kind === 'ENDED') {
      void returnToOwnAccount(`Your session as ${first} ended: ${endReason(session.endReason)}.`).then(() =>
        navigate('/teams'),
      );
    } else {
      setLive({ mode: session.mode, expiresAt: session.expiresAt });
      if (e.kind === 'EXPIRING') setWarned(true);
    }
    return ev;
  });
  // The pages' write controls follow the mode.
  useEffect(() => {
    window.dispatchEvent(new CustomEvent(MODE_EVENT, { detail: live.mode }));
  }, [live.mode]);

  // The socket tells first; the clock is the fallback when the socket is gone.
  const expired = new Date(live.expiresAt).getTime() + 5000 < now;
  useEffect(() => {
    if (expired && session?.returnRefresh)
      void returnToOwnAccount(`Your session as ${first} ended: time ran out.`).then(() => navigate('/teams'));
  }, [expired, session?.returnRefresh, first, navigate]);

  const readOnly = live.mode === 'READ_ONLY';
  // The last 5 minutes look different: the server's EXPIRING event, or the clock.
  const expiring = warned || new Date(live.expiresAt).getTime() - now <= 5 * 60_000;
  // Under a read-only grant the customer allowed no changes, and in an account marked for
  // review changes need a reviewed session: elevation would be refused either way.
  const grantReadOnly = imp.grant?.mode === 'READ_ONLY';
  const reviewed = me.impersonationReviewRequired;
  return (
    <div className={expiring ? 'banner expiring' : 'banner'} role="region" aria-label="Impersonation">
      <p>
        <strong>Signed in as {first}</strong> · <span>{mode(live.mode as 'READ_ONLY' | 'READ_WRITE')}</span> ·{' '}
        <span>{left(live.expiresAt, now)}</span>
        {me.impersonatedBy && <span className="sub"> (you are {me.impersonatedBy.name}, support)</span>}
        <br />
        <span className="sub" data-testid="banner-reason">
          Reason: “{imp.reason ?? 'none given'}”
          {imp.ticket && <> · Ticket {imp.ticketUrl ? <a href={imp.ticketUrl} target="_blank" rel="noreferrer noopener">{imp.ticket}</a> : imp.ticket}</>}
        </span>
        {expiring && (
          <span className="warn" role="alert" data-testid="expiring">
            {' '}Less than 5 minutes left: finish or stop now; the session ends by itself.
          </span>
        )}
        {confirmed && !readOnly && <span className="sub" role="status"> Changes are allowed now.</span>}
      </p>
      <div className="banner-actions">
        {readOnly && !asking && !grantReadOnly && !reviewed && (
          <button type="button" onClick={() => setAsking(true)}>Elevate</button>
        )}
        {readOnly && grantReadOnly && <span className="sub">The customer granted read-only access.</span>}
        {readOnly && !grantReadOnly && reviewed && (
          <span className="sub">Changes here need a second admin's review: stop, and ask for one on the Teams List.</span>
        )}
        <button
          type="button"
          className="stop"
          onClick={async () => {
            const r = await stop({});
            if (r.data) {
              setSession({ ...r.data.cancelImpersonation, flash: `You are back in your own account.` });
              navigate('/teams');
            } else {
              await returnToOwnAccount('Your support session had already ended.');
              navigate('/teams');
            }
          }}
        >
          Stop
        </button>
      </div>
      {asking && (
        <form
          className="elevate"
          onSubmit={async (e) => {
            e.preventDefault();
            await allow(code.trim() ? { code: code.trim() } : undefined);
          }}
        >
          <label>
            Why changes are needed
            <input autoFocus value={reason} onChange={(e) => setReason(e.target.value)} required />
          </label>
          {totp && (
            <>
              <label>
                Your authenticator code
                <input inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} required={!passkey} />
              </label>
              <button type="submit">Allow changes</button>
            </>
          )}
          {!totp && <span className="sub" data-testid="elevate-passkey-only">This deployment takes a passkey to allow changes.</span>}
          {passkey && <button
            type="button"
            disabled={!reason.trim()}
            onClick={async () => {
              setPasskeyError(null);
              try {
                await allow({ passkey: await passkeyAnswer('ELEVATE', me.id) });
              } catch (e) {
                setPasskeyError(e as Error);
              }
            }}
          >
            Allow with a passkey
          </button>}
          <button type="button" className="link" onClick={() => setAsking(false)}>Cancel</button>
          <ErrorText error={passkeyError} />
        </form>
      )}
      <ErrorText error={stopped.error ?? elevated.error} />
    </div>
  );
}
