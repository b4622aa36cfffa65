// What the Teams page's dialogs share: the owner a row is about, the mode and ticket fields,
// and an approved review in words.
import type { ImpersonationMode } from '../../../../generated/gql/graphql';
import type { TeamsQuery } from '../../../../generated/gql/graphql';

export type Owner = TeamsQuery['teams']['edges'][number]['node']['owner'];
export type Review = NonNullable<Owner['impersonationCheck']['approvedReview']>;
import { clock } from '../../words';

/** "approved by Bob, read & write, start by 19:09". */
export function approvedWords(r: Review): string {
  return `Approved by ${r.reviewer?.name ?? 'a second admin'} for ${r.mode === 'READ_WRITE' ? 'read & write' : 'read-only'}, ${r.minutes} min: start by ${clock(r.expiresAt)}`;
}

const MODE_LABELS: Record<ImpersonationMode, string> = {
  READ_ONLY: 'Read-only (look, change nothing)',
  READ_WRITE: 'Read & write',
};

/** The modes to choose from: all, or only those the customer's approval allows. */
export function ModeSelect({ value, onChange, modes = ['READ_ONLY', 'READ_WRITE'] }: { value: ImpersonationMode; onChange: (m: ImpersonationMode) => void; modes?: ImpersonationMode[] }) {
  if (modes.length === 1)
    return <p className="hint" data-testid="only-mode">Mode: {MODE_LABELS[modes[0]]}, as the customer approved.</p>;
  return (
    <label>
      Mode
      <select value={value} onChange={(e) => onChange(e.target.value as ImpersonationMode)}>
        {modes.map((m) => <option key={m} value={m}>{MODE_LABELS[m]}</option>)}
      </select>
    </label>
  );
}

export function TicketField({ value, onChange }: { value: string; onChange: (t: string) => void }) {
  return (
    <label>
      Support ticket (optional; the customer sees it)
      <input value={value} onChange={(e) => onChange(e.target.value)} maxLength={100} />
    </label>
  );
}
