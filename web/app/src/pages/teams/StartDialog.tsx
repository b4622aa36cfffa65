// Impersonate: a reason, the mode (what a second admin approved, preselected), a ticket, and
// a fresh proof when the deployment asks for one (STEP_UP_REQUIRED).
import { useState } from 'react';
import { useMutation } from 'urql';
import { useLocation } from 'wouter';
import { graphql } from '../../../../generated/gql';
import type { ImpersonationMode } from '../../../../generated/gql/graphql';
import { getSession, setSession } from '../../session';
import { StepUpPrompt, useStepUp } from '../../StepUp';
import { stepUpMethods, type StepUpInput } from '../../passkeys';
import { Dialog, ErrorText } from '../../ui';
import { ModeSelect, TicketField, approvedWords, type Owner } from './fields';

const ImpersonateDoc = graphql(`
  mutation Impersonate($userId: ID!, $reason: String, $mode: ImpersonationMode, $ticket: String, $teamId: ID, $stepUp: StepUp) {
    impersonate(userId: $userId, reason: $reason, mode: $mode, ticket: $ticket, teamId: $teamId, stepUp: $stepUp) { accessToken refreshToken expiresAt }
  }
`);

export function StartDialog({ owner, teamId, onClose }: { owner: Owner; teamId: string; onClose: () => void }) {
  const modes = owner.impersonationCheck.modes;
  const review = owner.impersonationCheck.approvedReview;
  const [reason, setReason] = useState('');
  const [ticket, setTicket] = useState('');
  // What a second admin approved is what the session starts as; otherwise read-only first.
  const [mode, setMode] = useState<ImpersonationMode>(
    review && modes.includes(review.mode) ? review.mode : modes.includes('READ_ONLY') ? 'READ_ONLY' : modes[0] ?? 'READ_ONLY',
  );
  const [result, impersonate] = useMutation(ImpersonateDoc);
  const stepUp = useStepUp(result.error);
  const [, navigate] = useLocation();
  // The session starts in the team of the row it was started from; with a fresh proof when
  // the server asked for one (STEP_UP_REQUIRED).
  const start = async (proof?: StepUpInput) => {
    const r = await impersonate({ userId: owner.id, reason, mode, ticket: ticket || null, teamId, stepUp: proof ?? null });
    if (r.data) {
      const own = getSession();
      setSession({ ...r.data.impersonate, returnRefresh: own?.refreshToken ?? own?.returnRefresh ?? null });
      navigate('/work');
    }
  };
  return (
    <Dialog title={`Sign in as ${owner.name}`} onClose={onClose}>
      <form
        className="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          await start();
        }}
      >
        <label>
          Reason (the customer sees it)
          <input autoFocus value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={500} />
        </label>
        <ModeSelect value={mode} onChange={setMode} modes={modes} />
        {review && (
          <p className="hint" data-testid="dialog-review">
            {approvedWords(review)}.{mode !== review.mode && ' A session in another mode does not use this approval.'}
          </p>
        )}
        <TicketField value={ticket} onChange={setTicket} />
        <div className="row">
          <button type="submit" disabled={result.fetching}>Start session</button>
          <button type="button" className="link" onClick={onClose}>Cancel</button>
        </div>
        {stepUp && <StepUpPrompt methods={stepUp} purpose="IMPERSONATE" targetId={owner.id} onProof={start} />}
        {/* The prompt says what STEP_UP_REQUIRED means; other errors in words. */}
        <ErrorText error={stepUpMethods(result.error) ? null : result.error} />
      </form>
    </Dialog>
  );
}
