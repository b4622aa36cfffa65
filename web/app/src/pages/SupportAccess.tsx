// The customer's side of support access: requests to approve (for how long) or deny, open
// windows to revoke, a window opened unasked, and the history of every session in the
// account: who, why, the mode, how it ended, each operation and each change.
import { useState } from 'react';
import { Link } from 'wouter';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../../../generated/gql';
import type { ImpersonationMode, SupportQuery } from '../../../generated/gql/graphql';
import { ErrorText, Page } from '../ui';
import { localTimes, mode, when } from '../words';

const SupportDoc = graphql(`
  query Support {
    me {
      id
      impersonationAllowed
      impersonationRequiresApproval
      supportAccessGrants { id reason mode requestedMinutes status createdAt decidedAt expiresAt ticket ticketUrl requestedBy { id name } }
      accessHistory(first: 20) {
        edges {
          node {
            id reason startedAt endedAt active summary changeCount ticket ticketUrl
            story { from count summary }
            changes(first: 50) { edges { node { id actorName summary createdAt } } }
          }
        }
      }
    }
  }
`);
const TeamOwnerDoc = graphql(`
  query TeamOwner { me { id currentTeam { id name owner { id } } } }
`);
const TeamHistoryDoc = graphql(`
  query TeamHistory {
    me {
      id
      currentTeam {
        id
        accessHistory(first: 20) {
          edges { node { id summary reason startedAt ticket ticketUrl impersonatedUser { id name } } }
        }
      }
    }
  }
`);
const ApproveDoc = graphql(`
  mutation Approve($id: ID!, $minutes: Int) { approveSupportAccess(grantId: $id, minutes: $minutes) { id status expiresAt } }
`);
const DenyDoc = graphql(`
  mutation Deny($id: ID!) { denySupportAccess(grantId: $id) { id status } }
`);
const RevokeDoc = graphql(`
  mutation Revoke($id: ID!) { revokeSupportAccess(grantId: $id) { id status } }
`);
const GrantDoc = graphql(`
  mutation Grant($reason: String!, $mode: ImpersonationMode, $minutes: Int) {
    grantSupportAccess(reason: $reason, mode: $mode, minutes: $minutes) { id status expiresAt }
  }
`);

type Grant = SupportQuery['me']['supportAccessGrants'][number];

export function SupportAccess() {
  // Kept true by the cache (`cache.ts`): decisions answer with the grant, a new window and
  // live events make the lists stale, and the consent is the signed-in user's own record.
  const [{ data, error, fetching }] = useQuery({ query: SupportDoc });
  const off = data ? !data.me.impersonationAllowed : false;
  const grants = data?.me.supportAccessGrants ?? [];
  const pending = grants.filter((g) => g.status === 'PENDING');
  const open = grants.filter((g) => g.status === 'APPROVED');
  const past = grants.filter((g) => g.status !== 'PENDING' && g.status !== 'APPROVED');
  return (
    <Page title="Support access">
      <ErrorText error={error} />
      {!data && fetching && <p aria-busy="true">Loading…</p>}
      <section aria-labelledby="pending-h" className="card">
        <h2 id="pending-h">Requests waiting for you</h2>
        {pending.length === 0 && <p>None.</p>}
        <ul className="list">{pending.map((g) => <PendingGrant key={g.id} grant={g} off={off} />)}</ul>
      </section>
      <section aria-labelledby="open-h" className="card">
        <h2 id="open-h">Open access</h2>
        {open.length === 0 && data && <p>{standing(data.me)}</p>}
        <ul className="list">{open.map((g) => <OpenGrant key={g.id} grant={g} />)}</ul>
        <GrantForm off={off} />
      </section>
      <section aria-labelledby="history-h" className="card">
        <h2 id="history-h">Who entered your account</h2>
        {data?.me.accessHistory.edges.length === 0 && <p>Nobody yet.</p>}
        <ul className="list history">
          {data?.me.accessHistory.edges.map(({ node: s }) => (
            <li key={s.id} data-testid="session">
              <p>
                {/* The ticket is shown once, as a link, on the line below. */}
                <strong>{localTimes(s.summary, s.startedAt).replace(/; ticket .*$/, '')}</strong>
                <br />
                Reason: “{s.reason ?? 'no reason given'}”{s.ticket && <> · Ticket <Ticket ticket={s.ticket} url={s.ticketUrl} /></>}
                <br />
                <small>{when(s.startedAt)} – {s.active ? 'now' : when(s.endedAt)}</small>
              </p>
              <details>
                <summary>What support did: {s.changeCount} {s.changeCount === 1 ? 'change' : 'changes'} to your data</summary>
                <ol className="story">{s.story.map((l, i) => <li key={i}><time>{when(l.from)}</time> {localTimes(l.summary, s.startedAt)}</li>)}</ol>
                {s.changes.edges.length > 0 && (
                  <>
                    <h3>In your activity log</h3>
                    <ul>{s.changes.edges.map(({ node: c }) => <li key={c.id}><time>{when(c.createdAt)}</time> {c.actorName}: {c.summary}</li>)}</ul>
                  </>
                )}
              </details>
            </li>
          ))}
        </ul>
      </section>
      <TeamHistory />
      {past.length > 0 && (
        <section aria-labelledby="past-h" className="card">
          <h2 id="past-h">Earlier requests and windows</h2>
          <ul className="list">{past.map((g) => <li key={g.id}>{describe(g)} · <strong>{g.status.toLowerCase()}</strong></li>)}</ul>
        </section>
      )}
    </Page>
  );
}

/** Where the customer stands, from their Profile settings. */
function standing(me: SupportQuery['me']): string {
  if (!me.impersonationAllowed) return 'Support access is off: nobody from support can enter your account (Profile settings).';
  if (me.impersonationRequiresApproval) return 'Support cannot enter without your approval.';
  return 'Support may enter without asking, and you are told each time. To approve each session, turn it on in Profile settings.';
}

/** The minutes a window was opened for: what was approved (5 of 30 asked), else asked. */
function minutesOf(g: Grant): number {
  if (g.status === 'APPROVED' || g.status === 'EXPIRED' || g.status === 'REVOKED') {
    if (g.decidedAt && g.expiresAt && g.status !== 'REVOKED')
      return Math.max(1, Math.round((new Date(g.expiresAt).getTime() - new Date(g.decidedAt).getTime()) / 60_000));
  }
  return g.requestedMinutes;
}

function describe(g: Grant): string {
  const who = g.requestedBy ? g.requestedBy.name : 'Any support admin';
  const minutes = minutesOf(g);
  const asked = minutes !== g.requestedMinutes ? ` of ${g.requestedMinutes} asked` : '';
  return `${who}, ${mode(g.mode)}, ${minutes} min${asked}: “${g.reason}”${g.ticket ? ` (ticket ${g.ticket})` : ''}`;
}

/** A support ticket's reference, a link when the server knows where tickets are read. */
export function Ticket({ ticket, url }: { ticket: string; url?: string | null }) {
  return url ? <a href={url} target="_blank" rel="noreferrer noopener">{ticket}</a> : <>{ticket}</>;
}

function PendingGrant({ grant, off }: { grant: Grant; off: boolean }) {
  const [minutes, setMinutes] = useState(grant.requestedMinutes);
  const [approved, approve] = useMutation(ApproveDoc);
  const [denied, deny] = useMutation(DenyDoc);
  return (
    <li data-testid="pending">
      <p>{describe(grant)} <small>(asked {when(grant.createdAt)}, lapses {when(grant.expiresAt)})</small></p>
      <div className="row">
        <label>Minutes<input type="number" min={1} max={grant.requestedMinutes} value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} /></label>
        <button type="button" disabled={off} aria-describedby={off ? 'access-off' : undefined} onClick={() => void approve({ id: grant.id, minutes })}>Approve</button>
        <button type="button" className="danger" onClick={() => void deny({ id: grant.id })}>Deny</button>
      </div>
      <ErrorText error={approved.error ?? denied.error} />
    </li>
  );
}

function OpenGrant({ grant }: { grant: Grant }) {
  const [revoked, revoke] = useMutation(RevokeDoc);
  return (
    <li data-testid="open-grant">
      <p>{describe(grant)} <small>until {when(grant.expiresAt)}</small></p>
      <button type="button" className="danger" onClick={() => void revoke({ id: grant.id })}>Revoke</button>
      <ErrorText error={revoked.error} />
    </li>
  );
}

/** Opening access unasked. With support access off in Profile settings it is disabled and
 *  says why: the server refuses it too (a window nobody could use). */
function GrantForm({ off }: { off: boolean }) {
  const [reason, setReason] = useState('');
  const [m, setM] = useState<ImpersonationMode>('READ_ONLY');
  const [minutes, setMinutes] = useState(60);
  const [result, grant] = useMutation(GrantDoc);
  return (
    <form className="stack" onSubmit={async (e) => { e.preventDefault(); const r = await grant({ reason, mode: m, minutes }); if (r.data) setReason(''); }}>
      <h3>Let support in now, without a request</h3>
      {off && (
        <p className="notice" id="access-off" role="note" data-testid="access-off">
          Turn support access on first: it is off in your <Link href="/profile">Profile settings</Link>, so nobody from support could use a window.
        </p>
      )}
      <fieldset className="stack plain" disabled={off} aria-describedby={off ? 'access-off' : undefined}>
        <label>Reason<input value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={500} /></label>
        <label>Mode
          <select value={m} onChange={(e) => setM(e.target.value as ImpersonationMode)}>
            <option value="READ_ONLY">Read-only</option>
            <option value="READ_WRITE">Read &amp; write</option>
          </select>
        </label>
        <label>Minutes<input type="number" min={1} max={10080} value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} required /></label>
        <button type="submit">Grant access</button>
      </fieldset>
      {result.data && !result.error && <p role="status">Support may enter until {when(result.data.grantSupportAccess.expiresAt)}.</p>}
      <ErrorText error={result.error} />
    </form>
  );
}

/** For the team's owner: support sessions into any member's account (`Team.accessHistory`). */
function TeamHistory() {
  const [{ data: owner }] = useQuery({ query: TeamOwnerDoc });
  const team = owner?.me.currentTeam;
  const isOwner = !!team && team.owner.id === owner?.me.id;
  const [{ data, error }] = useQuery({ query: TeamHistoryDoc, pause: !isOwner });
  if (!isOwner) return null;
  const sessions = data?.me.currentTeam?.accessHistory.edges.map((e) => e.node) ?? [];
  return (
    <section aria-labelledby="team-h" className="card">
      <h2 id="team-h">Support in your team, {team.name}</h2>
      <p className="hint">As the team's owner you see every support session into a member's account; what support did inside is that member's to read.</p>
      <ErrorText error={error} />
      {data && sessions.length === 0 && <p>No support session in your team's accounts.</p>}
      <ul className="list">
        {sessions.map((s) => (
          <li key={s.id} data-testid="team-session">
            <strong>Into {s.impersonatedUser.name}'s account:</strong> {s.summary}
            <br />
            <small>Reason: “{s.reason ?? 'no reason given'}”{s.ticket && <> · Ticket <Ticket ticket={s.ticket} url={s.ticketUrl} /></>} · {when(s.startedAt)}</small>
          </li>
        ))}
      </ul>
    </section>
  );
}
