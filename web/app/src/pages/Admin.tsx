// Admin pages: running sessions (live, with "end" and, for super admins, the global switch),
// the impersonation history, and the audit log with filters.
import { useCallback, useState } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { graphql } from '../../../generated/gql';
import type { Me } from '../me';
import { ErrorText, Page, Pager } from '../ui';
import { endReason, localTimes, mode, when } from '../words';

const SessionsDoc = graphql(`
  query Sessions {
    impersonationSettings { enabled defaultMode ttlMinutes idleMinutes }
    impersonations(first: 100, activeOnly: true) {
      edges { node { id reason mode startedAt expiresAt impersonator { id name } impersonatedUser { id name } } }
    }
  }
`);
const EventsDoc = graphql(`
  subscription SessionEvents { impersonationEvents { kind at impersonation { id } } }
`);
const EndDoc = graphql(`
  mutation EndSession($id: ID!, $reason: String) { endImpersonation(id: $id, reason: $reason) { id endedAt } }
`);
const SwitchDoc = graphql(`
  mutation SetEnabled($enabled: Boolean!, $reason: String) { setImpersonationEnabled(enabled: $enabled, reason: $reason) }
`);

export function Sessions({ me }: { me: Me }) {
  const [{ data, error }, refetch] = useQuery({ query: SessionsDoc });
  const again = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  useSubscription({ query: EventsDoc }, (_p, ev) => {
    again();
    return ev;
  });
  const [ended, end] = useMutation(EndDoc);
  const [switched, setEnabled] = useMutation(SwitchDoc);
  const superAdmin = me.role === 'SUPER_ADMIN';
  const settings = data?.impersonationSettings;
  return (
    <Page title="Running sessions">
      <ErrorText error={error ?? ended.error ?? switched.error} />
      {settings && (
        <section className="card" aria-labelledby="switch-h">
          <h2 id="switch-h">Impersonation is {settings.enabled ? 'on' : 'off'} for everyone</h2>
          <p>Sessions last {settings.ttlMinutes} minutes, end after {settings.idleMinutes} idle minutes, and start {mode(settings.defaultMode)} by default.</p>
          {superAdmin ? (
            <KillSwitch
              enabled={settings.enabled}
              running={data?.impersonations.edges.length ?? 0}
              onSwitch={async (enabled, reason) => { await setEnabled({ enabled, reason }); again(); }}
            />
          ) : (
            <p className="hint">Only a super admin can switch it.</p>
          )}
        </section>
      )}
      <div className="table-wrap">
        <table>
          <thead><tr><th scope="col">Support</th><th scope="col">Customer</th><th scope="col">Mode</th><th scope="col">Reason</th><th scope="col">Ends</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {data?.impersonations.edges.map(({ node: s }) => (
              <tr key={s.id} data-testid="running">
                <td>{s.impersonator.name}</td>
                <td>{s.impersonatedUser.name}</td>
                <td>{mode(s.mode)}</td>
                <td>{s.reason}</td>
                <td>{when(s.expiresAt)}</td>
                <td>
                  {(superAdmin || s.impersonator.id === me.id) && (
                    <button type="button" className="danger" onClick={async () => { await end({ id: s.id, reason: 'Ended from the sessions page' }); again(); }}>
                      End <span className="sr-only">session of {s.impersonatedUser.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
            {data && data.impersonations.edges.length === 0 && <tr><td colSpan={6}>No session is running.</td></tr>}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

/** The global switch. Switching off ends every running session, so it asks first, with a
 *  reason that goes into the audit log. */
function KillSwitch({ enabled, running, onSwitch }: { enabled: boolean; running: number; onSwitch: (enabled: boolean, reason: string | null) => Promise<void> }) {
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  if (!enabled)
    return <button type="button" onClick={() => void onSwitch(true, null)}>Switch impersonation on</button>;
  if (!asking)
    return <button type="button" className="danger" onClick={() => setAsking(true)}>Switch impersonation off (ends every session)</button>;
  return (
    <form
      className="stack"
      aria-label="Switch impersonation off"
      onSubmit={async (e) => { e.preventDefault(); await onSwitch(false, reason); setAsking(false); setReason(''); }}
    >
      <p role="alert">This ends {running === 1 ? 'the running session' : `all ${running} running sessions`} at once and refuses new ones until it is switched on again.</p>
      <label>Why (goes into the audit log)<input autoFocus value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={500} /></label>
      <div className="row">
        <button type="submit" className="danger">Yes, switch off and end every session</button>
        <button type="button" className="link" onClick={() => setAsking(false)}>Cancel</button>
      </div>
    </form>
  );
}

const HistoryDoc = graphql(`
  query History($after: String) {
    impersonations(first: 20, after: $after) {
      edges { node { id reason mode startedAt endedAt endReason active summary changeCount impersonator { id name } impersonatedUser { id name } story { from count summary } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export function History() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [{ data, error, fetching }] = useQuery({ query: HistoryDoc, variables: { after: cursors[cursors.length - 1] } });
  const page = data?.impersonations;
  return (
    <Page title="Impersonation history">
      <ErrorText error={error} />
      {!data && fetching && <p aria-busy="true">Loading sessions…</p>}
      <div className="table-wrap">
        <table>
          <thead><tr><th scope="col">Support</th><th scope="col">Customer</th><th scope="col">Mode</th><th scope="col">Reason</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">What was done</th></tr></thead>
          <tbody>
            {page?.edges.map(({ node: s }) => (
              <tr key={s.id}>
                <td>{s.impersonator.name}</td><td>{s.impersonatedUser.name}</td><td>{mode(s.mode)}</td><td>{s.reason}</td>
                <td>{when(s.startedAt)}</td><td>{s.active ? 'running' : `${when(s.endedAt)}, ${endReason(s.endReason)}`}</td>
                <td>
                  <details data-testid="session-details">
                    <summary>{s.changeCount} {s.changeCount === 1 ? 'change' : 'changes'}, {s.story.length} {s.story.length === 1 ? 'step' : 'steps'}</summary>
                    <p>{localTimes(s.summary, s.startedAt)}</p>
                    <ol className="story">{s.story.map((l, i) => <li key={i}><time>{when(l.from)}</time> {localTimes(l.summary, s.startedAt)}</li>)}</ol>
                  </details>
                </td>
              </tr>
            ))}
            {page && page.edges.length === 0 && <tr><td colSpan={7}>No session yet.</td></tr>}
          </tbody>
        </table>
      </div>
      <Pager cursors={cursors} setCursors={setCursors} pageInfo={page?.pageInfo} />
    </Page>
  );
}

/** The actions to filter by, in words: the server's list (`auditActions`), never a copy. */
const ActionsDoc = graphql(`
  query AuditActions { auditActions { action label } }
`);

const AuditDoc = graphql(`
  query Audit($after: String, $filter: AuditLogFilter) {
    auditLogs(first: 20, after: $after, filter: $filter) {
      edges { node { id summary actorName isImpersonated entityType createdAt ipAddress onBehalfOf { id name } team { id name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const PeopleDoc = graphql(`
  query AuditPeople { teams(first: 100) { edges { node { id name members { id name } } } } }
`);

export function Audit({ admin }: { admin: boolean }) {
  const [action, setAction] = useState('');
  const [impersonated, setImpersonated] = useState('');
  const [person, setPerson] = useState('');
  const [team, setTeam] = useState('');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  // Admins filter by person and team (the first 100 teams and their members).
  const [{ data: people }] = useQuery({ query: PeopleDoc, pause: !admin });
  const teams = people?.teams.edges.map((e) => e.node) ?? [];
  const persons = [...new Map(teams.flatMap((t) => t.members).map((m) => [m.id, m])).values()]
    .sort((a, b) => a.name.localeCompare(b.name));
  const filter = {
    action: action.trim() || null,
    isImpersonated: impersonated === '' ? null : impersonated === 'yes',
    actorId: person || null,
    teamId: team || null,
  };
  const [{ data, error, fetching }] = useQuery({ query: AuditDoc, variables: { after: cursors[cursors.length - 1], filter } });
  const [{ data: actions }] = useQuery({ query: ActionsDoc });
  const page = data?.auditLogs;
  return (
    <Page title="Audit log">
      <p className="hint">{admin ? 'Every team.' : 'Your current team.'}</p>
      <form className="toolbar" onSubmit={(e) => e.preventDefault()}>
        <label><span className="label">Action</span>
          <select value={action} onChange={(e) => { setAction(e.target.value); setCursors([null]); }}>
            <option value="">All actions</option>
            {actions?.auditActions.map((a) => <option key={a.action} value={a.action}>{a.label}</option>)}
          </select>
        </label>
        {admin && (
          <>
            <label><span className="label">Person</span>
              <select value={person} onChange={(e) => { setPerson(e.target.value); setCursors([null]); }}>
                <option value="">Everyone</option>
                {persons.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
              </select>
            </label>
            <label><span className="label">Team</span>
              <select value={team} onChange={(e) => { setTeam(e.target.value); setCursors([null]); }}>
                <option value="">Every team</option>
                {teams.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
              </select>
            </label>
          </>
        )}
        <label><span className="label">By support</span>
          <select value={impersonated} onChange={(e) => { setImpersonated(e.target.value); setCursors([null]); }}>
            <option value="">All</option><option value="yes">Only support</option><option value="no">No support</option>
          </select>
        </label>
      </form>
      <ErrorText error={error} />
      {!data && fetching && <p aria-busy="true">Loading the log…</p>}
      <div className="table-wrap">
        <table className="cards" data-testid="audit-table">
          <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">On behalf of</th><th scope="col">Team</th>{admin && <th scope="col">IP</th>}</tr></thead>
          <tbody>
            {page?.edges.map(({ node: a }) => (
              <tr key={a.id} className={a.isImpersonated ? 'support' : ''}>
                <td data-label="When">{when(a.createdAt)}</td>
                <td data-label="What" data-testid="audit-sentence">{a.summary}</td>
                <td data-label="Who">{a.actorName}</td>
                <td data-label="On behalf of">{a.onBehalfOf?.name ?? ''}</td>
                <td data-label="Team">{a.team?.name ?? ''}</td>
                {admin && <td data-label="IP">{a.ipAddress ?? ''}</td>}
              </tr>
            ))}
            {page && page.edges.length === 0 && <tr><td colSpan={admin ? 6 : 5}>No entries match these filters.</td></tr>}
          </tbody>
        </table>
      </div>
      <Pager cursors={cursors} setCursors={setCursors} pageInfo={page?.pageInfo} />
    </Page>
  );
}

