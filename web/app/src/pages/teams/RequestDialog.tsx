// Request access to a customer who approves each session: a reason, the mode, the minutes.
import { useState } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../../../../generated/gql';
import type { ImpersonationMode } from '../../../../generated/gql/graphql';
import { Dialog, ErrorText } from '../../ui';
import { ModeSelect, TicketField, type Owner } from './fields';

const RequestDoc = graphql(`
  mutation RequestAccess($userId: ID!, $reason: String!, $mode: ImpersonationMode, $minutes: Int, $ticket: String) {
    requestSupportAccess(userId: $userId, reason: $reason, mode: $mode, minutes: $minutes, ticket: $ticket) { id status }
  }
`);

export function RequestDialog({ owner, onClose }: { owner: Owner; onClose: () => void }) {
  const [reason, setReason] = useState('');
  const [mode, setMode] = useState<ImpersonationMode>('READ_ONLY');
  const [minutes, setMinutes] = useState(30);
  const [ticket, setTicket] = useState('');
  const [result, request] = useMutation(RequestDoc);
  return (
    <Dialog title={`Request access to ${owner.name}'s account`} onClose={onClose}>
      {result.data ? (
        <div className="stack">
          <p role="status">Requested. {owner.name.split(' ')[0]} is notified and decides; the Teams List shows Impersonate once approved.</p>
          <button type="button" onClick={onClose}>Close</button>
        </div>
      ) : (
        <form
          className="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            await request({ userId: owner.id, reason, mode, minutes, ticket: ticket || null });
          }}
        >
          <label>
            Reason (the customer sees it)
            <input autoFocus value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={500} />
          </label>
          <ModeSelect value={mode} onChange={setMode} />
          <TicketField value={ticket} onChange={setTicket} />
          <label>
            Minutes
            <input type="number" min={1} max={10080} value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} required />
          </label>
          <div className="row">
            <button type="submit" disabled={result.fetching}>Send request</button>
            <button type="button" className="link" onClick={onClose}>Cancel</button>
          </div>
          <ErrorText error={result.error} />
        </form>
      )}
    </Dialog>
  );
}
