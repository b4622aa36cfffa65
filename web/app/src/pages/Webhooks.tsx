// Webhooks, for super admins: the endpoints (URL, events, on/off, failing since), a new one
// (its signing secret shown once), rotate the secret (shown once; the old one signs too for a
// day), send a test event, and each endpoint's recent deliveries with their status.
import { useCallback, useEffect, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../../../generated/gql';
import type { WebhooksQuery } from '../../../generated/gql/graphql';
import { ErrorText, Page } from '../ui';
import { clock, when } from '../words';

const WebhooksDoc = graphql(`
  query Webhooks {
    webhookEventTypes
    webhookEndpoints {
      id url description events enabled disabledAt failingSince previousSecretValidUntil createdAt
      deliveries(first: 10) { nodes { id eventType status attempts lastStatusCode lastError createdAt deliveredAt nextAttemptAt } }
    }
  }
`);
const CreateDoc = graphql(`
  mutation CreateWebhook($url: String!, $events: [String!]!, $description: String) {
    createWebhookEndpoint(url: $url, events: $events, description: $description) { secret endpoint { id } }
  }
`);
const UpdateDoc = graphql(`
  mutation UpdateWebhook($id: ID!, $input: WebhookEndpointUpdate!) {
    updateWebhookEndpoint(id: $id, input: $input) { id enabled }
  }
`);
const RotateDoc = graphql(`
  mutation RotateWebhookSecret($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { id } } }
`);
const TestDoc = graphql(`
  mutation SendTestWebhook($id: ID!) { sendTestWebhook(id: $id) { id } }
`);
const DeleteDoc = graphql(`
  mutation DeleteWebhook($id: ID!) { deleteWebhookEndpoint(id: $id) }
`);

type Endpoint = WebhooksQuery['webhookEndpoints'][number];
type Delivery = Endpoint['deliveries']['nodes'][number];

/** "sending…" for a first try, "retrying at 7:12 PM" after a failure, "delivered at …". */
function deliveryStatus(d: Delivery): string {
  switch (d.status) {
    case 'PENDING':
      if (d.attempts === 0) return 'sending…';
      return d.nextAttemptAt ? `failed ${d.attempts}×, retrying at ${clock(d.nextAttemptAt)}` : `failed ${d.attempts}×, retrying`;
    case 'DELIVERED':
      return d.deliveredAt ? `delivered at ${clock(d.deliveredAt)}` : 'delivered';
    default:
      return d.status.toLowerCase().replaceAll('_', ' ');
  }
}

/** A secret shown once, with what to do with it. */
function Secret({ secret, label }: { secret: string; label: string }) {
  return (
    <div className="card stack" role="status">
      <p><strong>{label}</strong> Copy it now into the receiver's settings: it is not shown again.</p>
      <code className="wrap" data-testid="webhook-secret">{secret}</code>
    </div>
  );
}

/** While a delivery waits, the list is read again this often: the sender works in the
 *  background (on any server), and a receiver usually has it within a second. */
const PENDING_POLL_MS = 1500;

export function Webhooks() {
  const [{ data, error }, reload] = useQuery({ query: WebhooksDoc });
  const refresh = useCallback(() => reload({ requestPolicy: 'network-only' }), [reload]);
  const waiting = data?.webhookEndpoints.some((e) => e.deliveries.nodes.some((d) => d.status === 'PENDING')) ?? false;
  useEffect(() => {
    if (!waiting) return;
    const t = setInterval(refresh, PENDING_POLL_MS);
    return () => clearInterval(t);
  }, [waiting, refresh]);
  return (
    <Page title="Webhooks">
      <p className="hint">Security events (sessions, support access, reviews, the global switch) go to these URLs, signed per the Standard Webhooks specification. Receivers check the signature with the endpoint's secret.</p>
      <ErrorText error={error} />
      {data && <NewEndpoint types={data.webhookEventTypes} onDone={refresh} />}
      {data?.webhookEndpoints.length === 0 && <p>No endpoints yet.</p>}
      {data?.webhookEndpoints.map((e) => <EndpointCard key={e.id} e={e} onChange={refresh} />)}
    </Page>
  );
}

function NewEndpoint({ types, onDone }: { types: string[]; onDone: () => void }) {
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<string[]>(types.filter((t) => t !== 'webhook.test'));
  const [created, create] = useMutation(CreateDoc);
  const [secret, setSecret] = useState<string | null>(null);
  return (
    <form
      className="card stack"
      aria-labelledby="new-webhook"
      onSubmit={async (e) => {
        e.preventDefault();
        const r = await create({ url: url.trim(), events, description: description || null });
        if (r.data) {
          setSecret(r.data.createWebhookEndpoint.secret);
          setUrl('');
          setDescription('');
          onDone();
        }
      }}
    >
      <h2 id="new-webhook">New endpoint</h2>
      <label>URL<input type="url" value={url} onChange={(e) => setUrl(e.target.value)} required placeholder="https://siem.example.com/hooks/crm" /></label>
      <label>Description (optional)<input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={500} /></label>
      <fieldset className="stack">
        <legend>Events</legend>
        {types.map((t) => (
          <label key={t} className="check">
            <input
              type="checkbox"
              checked={events.includes(t)}
              onChange={(e) => setEvents(e.target.checked ? [...events, t] : events.filter((x) => x !== t))}
            />
            {t}
          </label>
        ))}
      </fieldset>
      <button type="submit" disabled={created.fetching}>Add endpoint</button>
      {secret && <Secret secret={secret} label="Endpoint added. Its signing secret:" />}
      <ErrorText error={created.error} />
    </form>
  );
}

function EndpointCard({ e, onChange }: { e: Endpoint; onChange: () => void }) {
  const [updated, update] = useMutation(UpdateDoc);
  const [rotated, rotate] = useMutation(RotateDoc);
  const [tested, test] = useMutation(TestDoc);
  const [deleted, remove] = useMutation(DeleteDoc);
  const [secret, setSecret] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  return (
    <section className="card stack" data-testid="webhook" aria-label={`Endpoint ${e.url}`}>
      <h2 className="wrap">{e.url}</h2>
      {e.description && <p>{e.description}</p>}
      <p>
        {e.enabled ? 'On' : `Off since ${when(e.disabledAt)}`}
        {e.failingSince && ` · failing since ${when(e.failingSince)}`}
        {e.previousSecretValidUntil && ` · the previous secret signs too until ${when(e.previousSecretValidUntil)}`}
      </p>
      <p className="hint">Events: {e.events.join(', ')}</p>
      <div className="row">
        <button type="button" onClick={async () => { const r = await test({ id: e.id }); if (r.data) { setStatus('Test event queued: it is sent within a few seconds.'); onChange(); } }}>Send a test event</button>
        <button type="button" onClick={async () => { const r = await rotate({ id: e.id }); if (r.data) { setSecret(r.data.rotateWebhookSecret.secret); onChange(); } }}>Rotate secret</button>
        <button type="button" onClick={async () => { const r = await update({ id: e.id, input: { enabled: !e.enabled } }); if (r.data) onChange(); }}>{e.enabled ? 'Switch off' : 'Switch on'}</button>
        {confirming ? (
          <>
            <button type="button" className="danger" onClick={async () => { const r = await remove({ id: e.id }); if (r.data) onChange(); }}>Delete it and its deliveries</button>
            <button type="button" className="link" onClick={() => setConfirming(false)}>Cancel</button>
          </>
        ) : (
          <button type="button" className="link" onClick={() => setConfirming(true)}>Delete</button>
        )}
      </div>
      {secret && <Secret secret={secret} label="New signing secret (the old one keeps signing for 24 hours):" />}
      {status && <p role="status">{status}</p>}
      <ErrorText error={updated.error ?? rotated.error ?? tested.error ?? deleted.error} />
      <table className="cards">
        <caption>Recent deliveries</caption>
        <thead><tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Tries</th><th scope="col">Queued</th><th scope="col">Last answer</th></tr></thead>
        <tbody>
          {e.deliveries.nodes.map((d) => (
            <tr key={d.id} data-testid="delivery">
              <td data-label="Event" className="wrap">{d.eventType}</td>
              <td data-label="Status" data-testid="delivery-status">{deliveryStatus(d)}</td>
              <td data-label="Tries">{d.attempts}</td>
              <td data-label="Queued">{when(d.createdAt)}</td>
              <td data-label="Last answer" className="wrap">{d.lastStatusCode ?? ''}{d.lastError ? ` ${d.lastError}` : ''}</td>
            </tr>
          ))}
          {e.deliveries.nodes.length === 0 && <tr><td colSpan={5}>None yet.</td></tr>}
        </tbody>
      </table>
    </section>
  );
}
