// Four-eyes review, for admins: requests waiting for a second admin (approve, or deny with a
// note; one's own can be withdrawn), decided ones, and the sessions the viewer approved,
// which they can watch live, operation by operation, and end.
import { useCallback, useState } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { graphql } from '../../../generated/gql';
import type { ReviewsQuery } from '../../../generated/gql/graphql';
import type { Me } from '../me';
import { StepUpPrompt, useStepUp } from '../StepUp';
import { stepUpMethods, type StepUpInput } from '../passkeys';
import { ErrorText, Page } from '../ui';
import { clock, mode, when } from '../words';

const ReviewsDoc = graphql(`
  query Reviews {
    pending: impersonationReviews(status: PENDING, first: 50) { edges { node { ...ReviewFields } } }
    recent: impersonationReviews(first: 30) { edges { node { ...ReviewFields } } }
  }
  fragment ReviewFields on ImpersonationReview {
    id reason ticket mode minutes status note createdAt decidedAt expiresAt
    requester { id name } target { id name } reviewer { id name }
    impersonation { id active endedAt }
  }
`);
const EventsDoc = graphql(`
  subscription ReviewEvents { impersonationEvents { kind at } }
`);
const ApproveDoc = graphql(`
  mutation ApproveReview($id: ID!, $note: String, $stepUp: StepUp) { approveImpersonationReview(id: $id, note: $note, stepUp: $stepUp) { id status } }
`);
const DenyDoc = graphql(`
  mutation DenyReview($id: ID!, $note: String!) { denyImpersonationReview(id: $id, note: $note) { id status } }
`);
const WithdrawDoc = graphql(`
  mutation WithdrawReview($id: ID!) { withdrawImpersonationReview(id: $id) { id status } }
`);
const WatchDoc = graphql(`
  subscription WatchSession($id: ID!) { sessionActivity(impersonationId: $id) { id at summary } }
`);
const EndDoc = graphql(`
  mutation EndWatched($id: ID!, $reason: String) { endImpersonation(id: $id, reason: $reason) { id endedAt } }
`);

type Review = ReviewsQuery['pending']['edges'][number]['node'];

export function Reviews({ me }: { me: Me }) {
  const [{ data, error }, refetch] = useQuery({ query: ReviewsDoc });
  const again = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useSubscription({ query: EventsDoc }, (_p, ev) => {
    again();
    return ev;
  });
  const pending = data?.pending.edges.map((e) => e.node) ?? [];
  const recent = (data?.recent.edges.map((e) => e.node) ?? []).filter((r) => r.status !== 'PENDING');
  const mine = recent.filter((r) => r.reviewer?.id === me.id && r.impersonation?.active);
  return (
    <Page title="Reviews">
      <p className="hint">Sessions that can change accounts marked for review need a second admin's approval. Approve only what you would do yourself.</p>
      <ErrorText error={error} />
      <section className="card" aria-labelledby="pending-h">
        <h2 id="pending-h">Waiting for a second admin</h2>
        {pending.length === 0 && <p>Nothing is waiting.</p>}
        <ul className="list">{pending.map((r) => <PendingReview key={r.id} review={r} me={me} onDone={again} />)}</ul>
      </section>
      {mine.length > 0 && (
        <section className="card" aria-labelledby="watch-h">
          <h2 id="watch-h">Sessions you approved, running now</h2>
          <ul className="list">{mine.map((r) => <Watch key={r.id} review={r} onDone={again} />)}</ul>
        </section>
      )}
      <section className="card" aria-labelledby="decided-h">
        <h2 id="decided-h">Decided</h2>
        {recent.length === 0 && <p>None yet.</p>}
        <ul className="list">
          {recent.map((r) => (
            <li key={r.id} data-testid="decided-review">
              {describe(r)} · <strong>{decided(r)}</strong>{r.note && <>: “{r.note}”</>}
            </li>
          ))}
        </ul>
      </section>
    </Page>
  );
}

/** Who did what: the reviewer approved or denied; the requester used an approval. */
function decided(r: Review): string {
  const by = r.reviewer ? ` by ${r.reviewer.name}` : '';
  switch (r.status) {
    case 'USED':
      return `approved${by}, used by ${r.requester.name}`;
    case 'APPROVED':
      return `approved${by}, start by ${clock(r.expiresAt)}`;
    case 'DENIED':
      return `denied${by}`;
    case 'WITHDRAWN':
      return `withdrawn by ${r.requester.name}`;
    case 'EXPIRED':
      return r.decidedAt ? `approved${by}, not used in time` : 'lapsed: nobody decided in time';
    default:
      return r.status.toLowerCase();
  }
}

function describe(r: Review): string {
  return `${r.requester.name} into ${r.target.name}'s account, ${mode(r.mode)}, ${r.minutes} min: “${r.reason}”${r.ticket ? ` (ticket ${r.ticket})` : ''}`;
}

function PendingReview({ review, me, onDone }: { review: Review; me: Me; onDone: () => void }) {
  const [note, setNote] = useState('');
  const [approved, approve] = useMutation(ApproveDoc);
  const stepUp = useStepUp(approved.error);
  const approveWith = async (proof?: StepUpInput) => {
    const r = await approve({ id: review.id, note: note || null, stepUp: proof ?? null });
    if (r.data) onDone();
  };
  const [denied, deny] = useMutation(DenyDoc);
  const [withdrawn, withdraw] = useMutation(WithdrawDoc);
  const own = review.requester.id === me.id;
  return (
    <li data-testid="pending-review">
      <p>{describe(review)} <small>(asked {when(review.createdAt)}, lapses {when(review.expiresAt)})</small></p>
      {own ? (
        <div className="row">
          <span className="hint">Your request: another admin decides.</span>
          <button type="button" onClick={async () => { await withdraw({ id: review.id }); onDone(); }}>Withdraw</button>
        </div>
      ) : (
        <form className="row" onSubmit={(e) => e.preventDefault()}>
          <label>Note (required to deny)<input value={note} onChange={(e) => setNote(e.target.value)} maxLength={500} /></label>
          <button type="button" onClick={() => void approveWith()}>Approve</button>
          <button
            type="button"
            className="danger"
            onClick={async () => { const r = await deny({ id: review.id, note }); if (r.data) onDone(); }}
          >
            Deny
          </button>
        </form>
      )}
      {stepUp && !own && <StepUpPrompt methods={stepUp} purpose="APPROVE_REVIEW" onProof={approveWith} />}
      <ErrorText error={(stepUpMethods(approved.error) ? null : approved.error) ?? denied.error ?? withdrawn.error} />
    </li>
  );
}

/** A session the viewer approved: its operations live, and End. */
function Watch({ review, onDone }: { review: Review; onDone: () => void }) {
  const [watching, setWatching] = useState(false);
  const [ended, end] = useMutation(EndDoc);
  const id = review.impersonation!.id;
  return (
    <li data-testid="watched-session">
      <p>{describe(review)}</p>
      <div className="row">
        <button type="button" onClick={() => setWatching(!watching)}>{watching ? 'Stop watching' : 'Watch'}</button>
        <button type="button" className="danger" onClick={async () => { await end({ id, reason: 'Ended by the reviewer' }); onDone(); }}>End session</button>
      </div>
      {watching && <Live id={id} />}
      <ErrorText error={ended.error} />
    </li>
  );
}

function Live({ id }: { id: string }) {
  const [{ data, error }] = useSubscription(
    { query: WatchDoc, variables: { id } },
    (prev: { id: string; at: string; summary: string }[] = [], ev) => [...prev, ev.sessionActivity],
  );
  // The same view again and again (the console re-reading the profile) is one line, counted.
  const lines: { id: string; at: string; summary: string; times: number }[] = [];
  for (const a of data ?? []) {
    const last = lines[lines.length - 1];
    if (last && last.summary === a.summary && a.summary.startsWith('Viewed ')) last.times += 1;
    else lines.push({ ...a, times: 1 });
  }
  return (
    <>
      <ol className="story" aria-live="polite" data-testid="live-activity">
        {lines.map((a) => <li key={a.id}><time>{when(a.at)}</time> {a.summary}{a.times > 1 && ` (${a.times} views)`}</li>)}
      </ol>
      <ErrorText error={error} />
    </>
  );
}
