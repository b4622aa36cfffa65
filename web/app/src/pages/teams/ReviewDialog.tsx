// Ask a second admin to approve a session into an account marked for review.
import { useState } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../../../../generated/gql';
import { Dialog, ErrorText } from '../../ui';
import { TicketField, type Owner } from './fields';

const AskReviewDoc = graphql(`
  mutation AskReview($userId: ID!, $reason: String!, $mode: ImpersonationMode, $minutes: Int, $ticket: String) {
    requestImpersonationReview(userId: $userId, reason: $reason, mode: $mode, minutes: $minutes, ticket: $ticket) { id status }
  }
`);

export function ReviewDialog({ owner, onClose }: { owner: Owner; onClose: () => void }) {
  const [reason, setReason] = useState('');
  const [minutes, setMinutes] = useState(30);
  const [ticket, setTicket] = useState('');
  const [result, ask] = useMutation(AskReviewDoc);
  return (
    <Dialog title={`Ask a second admin to approve a session into ${owner.name}'s account`} onClose={onClose}>
      {result.data ? (
        <div className="stack">
          <p role="status">Asked. Every admin sees it on the Reviews page; you are told when one decides, and then have 15 minutes to start.</p>
          <button type="button" onClick={onClose}>Close</button>
        </div>
      ) : (
        <form
          className="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            await ask({ userId: owner.id, reason, mode: 'READ_WRITE', minutes, ticket: ticket || null });
          }}
        >
          <p className="hint">This account is marked as sensitive: a session that can change it needs another admin's approval.</p>
          <label>
            Reason (the reviewer and the customer see it)
            <input autoFocus value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={500} />
          </label>
          <TicketField value={ticket} onChange={setTicket} />
          <label>
            Session minutes
            <input type="number" min={1} max={1440} value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} required />
          </label>
          <div className="row">
            <button type="submit" disabled={result.fetching}>Ask for review</button>
            <button type="button" className="link" onClick={onClose}>Cancel</button>
          </div>
          <ErrorText error={result.error} />
        </form>
      )}
    </Dialog>
  );
}
