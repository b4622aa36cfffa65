// The "confirm it's you" step of a dialog that IMPERSONATION_STEP_UP guards: shown once the
// server answered STEP_UP_REQUIRED, it offers the passkey and, where the rule allows, a code;
// the dialog then sends its operation again with the proof.
import { useEffect, useState } from 'react';
import type { CombinedError } from 'urql';
import { passkeyAnswer, stepUpMethods, type Purpose, type StepUpInput } from './passkeys';
import { ErrorText } from './ui';

/** The methods the last refusal asked for, kept until the dialog closes. */
export function useStepUp(error: CombinedError | undefined): string[] | null {
  const [methods, setMethods] = useState<string[] | null>(null);
  useEffect(() => {
    const m = stepUpMethods(error);
    if (m) setMethods(m);
  }, [error]);
  return methods;
}

export function StepUpPrompt({ methods, purpose, targetId, onProof }: {
  methods: string[];
  purpose: Purpose;
  /** The customer the operation is about: the passkey's answer proves it for them only. */
  targetId?: string;
  onProof: (stepUp: StepUpInput) => Promise<unknown>;
}) {
  const [code, setCode] = useState('');
  const [failed, setFailed] = useState<Error | null>(null);
  const totp = methods.includes('TOTP');
  return (
    <div className="card stack" role="group" aria-labelledby={`step-up-${purpose}`}>
      <p id={`step-up-${purpose}`}>
        <strong>Confirm it's you.</strong>{' '}
        {totp ? 'Use your passkey, or enter a code from your authenticator app.' : 'Use your passkey: this deployment asks for one each time.'}
      </p>
      <button
        type="button"
        onClick={async () => {
          setFailed(null);
          try {
            await onProof({ passkey: await passkeyAnswer(purpose, targetId) });
          } catch (e) {
            setFailed(e as Error);
          }
        }}
      >
        Use a passkey
      </button>
      {totp && (
        <div className="row">
          <label>
            Authenticator code
            <input inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} />
          </label>
          <button type="button" disabled={!code.trim()} onClick={() => void onProof({ code: code.trim() })}>Confirm with the code</button>
        </div>
      )}
      <ErrorText error={failed} />
    </div>
  );
}
