// Businesses and leads of the current team, and their comments. Comments written by support
// while impersonating are shown apart, as "Support team".
import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { Link } from 'wouter';
import { graphql } from '../../../generated/gql';
import type { CommentFieldsFragment } from '../../../generated/gql/graphql';
import { MeDoc } from '../me';
import { ErrorText, Page, ReadOnlyNote, useReadOnly } from '../ui';
import { when } from '../words';

graphql(`
  fragment CommentFields on Comment { id text authorName isImpersonated createdAt }
`);

const WorkDoc = graphql(`
  query Work {
    businesses(first: 100) { id name }
    leads(first: 100) { id name business { id name } }
  }
`);
const CreateBusinessDoc = graphql(`
  mutation CreateBusiness($name: String!) { createBusiness(name: $name) { id name } }
`);
const CreateLeadDoc = graphql(`
  mutation CreateLead($name: String!, $businessId: ID) { createLead(name: $name, businessId: $businessId) { id name } }
`);

/** Whether writes are off here: a read-only support session. */
function useWritesOff(): boolean {
  const [{ data }] = useQuery({ query: MeDoc });
  return useReadOnly(data?.me.impersonation?.mode);
}

export function Work() {
  const off = useWritesOff();
  const [{ data, error, fetching }, refetch] = useQuery({ query: WorkDoc });
  const [bizResult, createBusiness] = useMutation(CreateBusinessDoc);
  const [leadResult, createLead] = useMutation(CreateLeadDoc);
  const [bizName, setBizName] = useState('');
  const [leadName, setLeadName] = useState('');
  const again = () => refetch({ requestPolicy: 'network-only' });
  return (
    <Page title="Businesses & leads">
      <ErrorText error={error} />
      {off && <ReadOnlyNote id="ro-why" />}
      {!data && fetching && <p aria-busy="true">Loading…</p>}
      <div className="columns">
        <section aria-labelledby="biz-h">
          <h2 id="biz-h">Businesses</h2>
          {data && data.businesses.length === 0 && <p data-testid="no-businesses">No businesses in this team yet: add the first one below.</p>}
          <ul className="list">
            {data?.businesses.map((b) => <li key={b.id}><Link href={`/business/${b.id}`}>{b.name}</Link></li>)}
          </ul>
          <form className="inline" onSubmit={async (e) => { e.preventDefault(); const r = await createBusiness({ name: bizName }); if (r.data) { setBizName(''); again(); } }}>
            <label><span className="sr-only">New business name</span><input value={bizName} onChange={(e) => setBizName(e.target.value)} placeholder="New business" required /></label>
            <button type="submit" disabled={off} aria-describedby={off ? 'ro-why' : undefined}>Add business</button>
          </form>
          <ErrorText error={bizResult.error} />
        </section>
        <section aria-labelledby="lead-h">
          <h2 id="lead-h">Leads</h2>
          {data && data.leads.length === 0 && <p data-testid="no-leads">No leads yet.</p>}
          <ul className="list">
            {data?.leads.map((l) => (
              <li key={l.id}><Link href={`/lead/${l.id}`}>{l.name}</Link>{l.business && <small> · {l.business.name}</small>}</li>
            ))}
          </ul>
          <form className="inline" onSubmit={async (e) => { e.preventDefault(); const r = await createLead({ name: leadName, businessId: data?.businesses[0]?.id ?? null }); if (r.data) { setLeadName(''); again(); } }}>
            <label><span className="sr-only">New lead name</span><input value={leadName} onChange={(e) => setLeadName(e.target.value)} placeholder="New lead" required /></label>
            <button type="submit" disabled={off} aria-describedby={off ? 'ro-why' : undefined}>Add lead</button>
          </form>
          <ErrorText error={leadResult.error} />
        </section>
      </div>
    </Page>
  );
}

const BusinessDoc = graphql(`
  query Business($id: ID!) { business(id: $id) { id name comments(first: 100) { ...CommentFields } } }
`);
const LeadDoc = graphql(`
  query Lead($id: ID!) { lead(id: $id) { id name business { id name } comments(first: 100) { ...CommentFields } } }
`);
const AddBusinessCommentDoc = graphql(`
  mutation AddBusinessComment($id: ID!, $text: String!) { addBusinessComment(businessId: $id, text: $text) { ...CommentFields } }
`);
const AddLeadCommentDoc = graphql(`
  mutation AddLeadComment($id: ID!, $text: String!) { addLeadComment(leadId: $id, text: $text) { ...CommentFields } }
`);

export function BusinessPage({ id }: { id: string }) {
  const [{ data, error }, refetch] = useQuery({ query: BusinessDoc, variables: { id } });
  const [added, add] = useMutation(AddBusinessCommentDoc);
  return (
    <Page title={data?.business.name ?? 'Business'}>
      <p><Link href="/work">← Businesses &amp; leads</Link></p>
      <ErrorText error={error} />
      {data && <Comments comments={data.business.comments} />}
      <CommentForm error={added.error} onAdd={async (text) => { const r = await add({ id, text }); if (r.data) refetch({ requestPolicy: 'network-only' }); return !!r.data; }} />
    </Page>
  );
}

export function LeadPage({ id }: { id: string }) {
  const [{ data, error }, refetch] = useQuery({ query: LeadDoc, variables: { id } });
  const [added, add] = useMutation(AddLeadCommentDoc);
  return (
    <Page title={data?.lead.name ?? 'Lead'}>
      <p><Link href="/work">← Businesses &amp; leads</Link>{data?.lead.business && <> · {data.lead.business.name}</>}</p>
      <ErrorText error={error} />
      {data && <Comments comments={data.lead.comments} />}
      <CommentForm error={added.error} onAdd={async (text) => { const r = await add({ id, text }); if (r.data) refetch({ requestPolicy: 'network-only' }); return !!r.data; }} />
    </Page>
  );
}

function Comments({ comments }: { comments: CommentFieldsFragment[] }) {
  if (comments.length === 0) return <p>No comments yet.</p>;
  return (
    <ol className="comments" aria-label="Comments">
      {comments.map((c) => (
        <li key={c.id} className={c.isImpersonated ? 'comment support' : 'comment'} data-testid="comment">
          <div className="meta">
            {c.isImpersonated && <span className="badge">Support</span>}
            <strong>{c.authorName}</strong> <time dateTime={c.createdAt}>{when(c.createdAt)}</time>
          </div>
          <p>{c.text}</p>
        </li>
      ))}
    </ol>
  );
}

function CommentForm({ onAdd, error }: { onAdd: (text: string) => Promise<boolean>; error?: Error | null }) {
  const [text, setText] = useState('');
  const off = useWritesOff();
  return (
    <form className="stack comment-form" onSubmit={async (e) => { e.preventDefault(); if (await onAdd(text)) setText(''); }}>
      <label>
        Add a comment
        <textarea value={text} onChange={(e) => setText(e.target.value)} required maxLength={5000} rows={3} disabled={off} aria-describedby={off ? 'ro-comment' : undefined} />
      </label>
      <button type="submit" disabled={off} aria-describedby={off ? 'ro-comment' : undefined}>Comment</button>
      {off && <ReadOnlyNote id="ro-comment" />}
      {/* A refusal from before an elevation is not left standing once writes are on. */}
      {!off && <ErrorText error={error} />}
    </form>
  );
}
