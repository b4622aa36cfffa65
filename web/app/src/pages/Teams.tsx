// The admins' Teams List: search, pages, and for each owner the Impersonate button, the
// button disabled with the denial in words, or "Request access" when the owner approves each
// session.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useMutation, useQuery } from 'urql';
import { Link, useLocation } from 'wouter';
import { graphql } from '../../../generated/gql';
import type { ImpersonationMode, TeamsQuery } from '../../../generated/gql/graphql';
import { getSession, setSession } from '../session';
import { StepUpPrompt, useStepUp } from '../StepUp';
import { stepUpMethods, type StepUpInput } from '../passkeys';
import { ErrorText, Page, Pager } from '../ui';
import { clock, denial, when } from '../words';
import { MeDoc } from '../me';

const TeamsDoc = graphql(`
  query Teams($first: Int!, $after: String, $search: String) {
    teams(first: $first, after: $after, search: $search) {
      edges {
        cursor
        node {
          id
          name
          owner {
            id name email role impersonationReviewRequired
            impersonationCheck { allowed reason modes grantExpiresAt approvedReview { id mode minutes expiresAt reviewer { id name } } }
          }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
    impersonationSettings { startProofs }
  }
`);
const ImpersonateDoc = graphql(`
  mutation Impersonate($userId: ID!, $reason: String, $mode: ImpersonationMode, $ticket: String, $teamId: ID, $stepUp: StepUp) {
    impersonate(userId: $userId, reason: $reason, mode: $mode, ticket: $ticket, teamId: $teamId, stepUp: $stepUp) { accessToken refreshToken expiresAt }
  }
`);
const AskReviewDoc = graphql(`
  mutation AskReview($userId: ID!, $reason: String!, $mode: ImpersonationMode, $minutes: Int, $ticket: String) {
    requestImpersonationReview(userId: $userId, reason: $reason, mode: $mode, minutes: $minutes, ticket: $ticket) { id status }
  }
`);
const AskUnmarkDoc = graphql(`
  mutation AskToUnmark($userId: ID!, $reason: String!) {
    requestReviewRequirementChange(userId: $userId, reason: $reason) { id status }
  }
`);
const MarkDoc = graphql(`
  mutation MarkForReview($userId: ID!, $required: Boolean!) {
    setImpersonationReviewRequired(userId: $userId, required: $required) { id impersonationReviewRequired }
  }
`);
const RequestDoc = graphql(`
  mutation RequestAccess($userId: ID!, $reason: String!, $mode: ImpersonationMode, $minutes: Int, $ticket: String) {
    requestSupportAccess(userId: $userId, reason: $reason, mode: $mode, minutes: $minutes, ticket: $ticket) { id status }
  }
`);

type Owner = TeamsQuery['teams']['edges'][number]['node']['owner'];
type Review = NonNullable<Owner['impersonationCheck']['approvedReview']>;
type Kind = 'start' | 'request' | 'review';
const PAGE_SIZE = 10;

export function Teams() {
  const [search, setSearch] = useState('');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const [{ data, error, fetching }] = useQuery({
    query: TeamsDoc,
    variables: { first: PAGE_SIZE, after, search: search || null },
  });
  const [dialog, setDialog] = useState<{ owner: Owner; teamId: string; kind: Kind } | null>(null);
  const [{ data: meData }] = useQuery({ query: MeDoc });
  const superAdmin = meData?.me.role === 'SUPER_ADMIN';
  // The rows stay true without a reload: a customer's decision, a window she opened unasked,
  // a review decided, a session started or ended make the cached list stale (`cache.ts`),
  // and this query fetches it again.
  const page = data?.teams;
  // A deployment that asks for a passkey to start a session, and an admin without one: say so
  // before any dialog opens.
  const needsPasskey = data?.impersonationSettings.startProofs.length === 1
    && data.impersonationSettings.startProofs[0] === 'PASSKEY'
    && meData?.me.passkeys.length === 0;
  return (
    <Page title="Teams">
      <form className="toolbar" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span className="label">Search teams</span>
          <input
            type="search"
            value={search}
            onChange={(e) => {
              setSearch(e.target.value);
              setCursors([null]);
            }}
          />
        </label>
      </form>
      <ErrorText error={error} />
      {needsPasskey && (
        <p className="notice" role="note" id="needs-passkey" data-testid="needs-passkey">
          This deployment asks for a passkey each time a session starts, and you have none yet:{' '}
          <Link href="/profile">add a passkey on your Profile</Link> first.
        </p>
      )}
      {!data && fetching && <p aria-busy="true">Loading teams…</p>}
      <div className="table-wrap">
        <table>
          <thead>
            <tr><th scope="col">Team</th><th scope="col">Owner</th><th scope="col">Support access</th></tr>
          </thead>
          <tbody aria-busy={fetching}>
            {page?.edges.map(({ node }) => (
              <tr key={node.id} data-testid={`team-${node.owner.email}`}>
                <td>{node.name}</td>
                <td>{node.owner.name}<br /><small>{node.owner.email} · {node.owner.role.toLowerCase().replace('_', ' ')}</small></td>
                <td>
                  <OwnerAction owner={node.owner} team={node.name} needsPasskey={!!needsPasskey} onOpen={(kind) => setDialog({ owner: node.owner, teamId: node.id, kind })} />
                  {superAdmin && node.owner.role === 'USER' && <MarkForReview owner={node.owner} />}
                </td>
              </tr>
            ))}
            {page && page.edges.length === 0 && <tr><td colSpan={3}>No team matches.</td></tr>}
          </tbody>
        </table>
      </div>
      <Pager cursors={cursors} setCursors={setCursors} pageInfo={page?.pageInfo} />
      {dialog?.kind === 'start' && <StartDialog owner={dialog.owner} teamId={dialog.teamId} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'review' && <ReviewDialog owner={dialog.owner} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'request' && <RequestDialog owner={dialog.owner} onClose={() => setDialog(null)} />}
    </Page>
  );
}

/** "approved by Bob, read & write, start by 19:09". */
function approvedWords(r: Review): string {
  return `Approved by ${r.reviewer?.name ?? 'a second admin'} for ${r.mode === 'READ_WRITE' ? 'read & write' : 'read-only'}, ${r.minutes} min: start by ${clock(r.expiresAt)}`;
}

function OwnerAction({ owner, team, needsPasskey, onOpen }: { owner: Owner; team: string; needsPasskey: boolean; onOpen: (kind: Kind) => void }) {
  const check = owner.impersonationCheck;
  const first = owner.name.split(' ')[0];
  // What a screen reader hears names the team too: one owner's two teams differ.
  const whom = <span className="sr-only">{owner.name} in {team}</span>;
  const passkeyWhy = needsPasskey ? 'needs-passkey' : undefined;
  const review = check.approvedReview;
  if (check.reason === 'REVIEW_REQUIRED')
    return (
      <span className="action">
        {check.modes.length > 0 && (
          <button type="button" disabled={needsPasskey} aria-describedby={passkeyWhy} onClick={() => onOpen('start')}>Impersonate read-only {whom}</button>
        )}
        <button type="button" onClick={() => onOpen('review')} aria-describedby={`why-${owner.id}`}>Ask for review <span className="sr-only">of a session into {owner.name}'s account in {team}</span></button>
        <small id={`why-${owner.id}`} className="hint">{denial(check.reason, first)}</small>
      </span>
    );
  if (check.allowed)
    return (
      <span className="action">
        <button type="button" disabled={needsPasskey} aria-describedby={passkeyWhy} onClick={() => onOpen('start')}>Impersonate {whom}</button>
        {review && <small className="hint approved" data-testid="review-approved">{approvedWords(review)}</small>}
        {check.grantExpiresAt && (
          <small className="hint" data-testid="approved-until">
            Approved{check.modes.length === 1 && check.modes[0] === 'READ_ONLY' ? ' (read-only)' : ''} until {when(check.grantExpiresAt)}
          </small>
        )}
      </span>
    );
  const why = denial(check.reason, first);
  const id = `why-${owner.id}`;
  if (check.reason === 'APPROVAL_REQUIRED')
    return (
      <span className="action">
        <button type="button" onClick={() => onOpen('request')} aria-describedby={id}>Request access <span className="sr-only">to {owner.name} in {team}</span></button>
        <small id={id} className="hint">{why}</small>
      </span>
    );
  return (
    <span className="action" title={why}>
      <button type="button" disabled aria-describedby={id}>Impersonate {whom}</button>
      <small id={id} className="hint denial">{why}</small>
    </span>
  );
}

/** A modal `<dialog>`: the browser keeps focus inside it, and Escape closes it. */
function Dialog({ title, children, onClose }: { title: string; children: ReactNode; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    // Focus goes back where it was (the button that opened it) when the dialog closes.
    const opener = document.activeElement as HTMLElement | null;
    if (d && !d.open) d.showModal();
    return () => {
      d?.close();
      opener?.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className="dialog card"
      aria-labelledby="dialog-title"
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <h2 id="dialog-title">{title}</h2>
      {children}
    </dialog>
  );
}

const MODE_LABELS: Record<ImpersonationMode, string> = {
  READ_ONLY: 'Read-only (look, change nothing)',
  READ_WRITE: 'Read & write',
};

/** The modes to choose from: all, or only those the customer's approval allows. */
function ModeSelect({ value, onChange, modes = ['READ_ONLY', 'READ_WRITE'] }: { value: ImpersonationMode; onChange: (m: ImpersonationMode) => void; modes?: ImpersonationMode[] }) {
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

function TicketField({ value, onChange }: { value: string; onChange: (t: string) => void }) {
  return (
    <label>
      Support ticket (optional; the customer sees it)
      <input value={value} onChange={(e) => onChange(e.target.value)} maxLength={100} />
    </label>
  );
}

function StartDialog({ owner, teamId, onClose }: { owner: Owner; teamId: string; onClose: () => void }) {
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

function RequestDialog({ owner, onClose }: { owner: Owner; onClose: () => void }) {
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

/** Super admins: the account needs a second admin's review for sessions that can change it.
 *  Marking is one super admin's; unmarking asks a second super admin, who decides. */
function MarkForReview({ owner }: { owner: Owner }) {
  const [marked, mark] = useMutation(MarkDoc);
  const [asked, ask] = useMutation(AskUnmarkDoc);
  return (
    <label className="check mark" data-testid="mark-review">
      <input
        type="checkbox"
        checked={owner.impersonationReviewRequired}
        disabled={marked.fetching || asked.fetching}
        onChange={async (e) => {
          if (e.target.checked) {
            await mark({ userId: owner.id, required: true });
            return;
          }
          const reason = window.prompt('Why should this account no longer need a review? A second super admin decides.');
          if (reason && reason.trim()) await ask({ userId: owner.id, reason: reason.trim() });
        }}
      />
      Needs a second admin's review
      {asked.data && <span role="status"> Asked a second super admin to approve unmarking it.</span>}
      <ErrorText error={marked.error ?? asked.error} />
    </label>
  );
}

function ReviewDialog({ owner, onClose }: { owner: Owner; onClose: () => void }) {
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
