// The admins' Teams List: search, pages, and for each owner the Impersonate button, the
// button disabled with the denial in words, or "Request access" when the owner approves each
// session. The dialogs are in `teams/`.
import { useState } from 'react';
import { useQuery } from 'urql';
import { Link } from 'wouter';
import { graphql } from '../../../generated/gql';
import { ErrorText, Page, Pager } from '../ui';
import { denial, when } from '../words';
import { MeDoc } from '../me';
import { approvedWords, type Owner } from './teams/fields';
import { MarkForReview } from './teams/MarkForReview';
import { RequestDialog } from './teams/RequestDialog';
import { ReviewDialog } from './teams/ReviewDialog';
import { StartDialog } from './teams/StartDialog';

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

