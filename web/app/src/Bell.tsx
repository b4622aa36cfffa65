// The notification bell: the account's latest notices, updated live by `myAccountEvents`.
// Each event also makes the account's lists stale in the normalized cache (`cache.ts`), so
// the open page (Support access, the Teams List) fetches them again.
import { useEffect, useState } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { graphql } from '../../generated/gql';
import { when } from './words';

const NoticesDoc = graphql(`
  query Notices {
    me { id notifications(first: 10) { edges { node { id kind message createdAt readAt } } } }
  }
`);
const EventsDoc = graphql(`
  subscription AccountEvents {
    myAccountEvents { kind at notification { id message } }
  }
`);
const MarkReadDoc = graphql(`
  mutation MarkRead { markNotificationsRead }
`);

export function Bell() {
  const [{ data }] = useQuery({ query: NoticesDoc });
  const [, markRead] = useMutation(MarkReadDoc);
  const [open, setOpen] = useState(false);
  const [toast, setToast] = useState<string | null>(null);
  useSubscription({ query: EventsDoc }, (_p, ev) => {
    const msg = ev.myAccountEvents.notification?.message;
    if (msg) setToast(msg);
    return ev;
  });
  // A notice shows for 10 seconds, then stays in the bell (it never covers a form for good).
  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), 10_000);
    return () => clearTimeout(t);
  }, [toast]);
  // Escape closes the open list.
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') setOpen(false); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open]);
  const notices = data?.me.notifications.edges.map((e) => e.node) ?? [];
  const unread = notices.filter((n) => !n.readAt).length;
  return (
    <div className="bell">
      <button type="button" aria-expanded={open} aria-controls="notices" onClick={() => setOpen(!open)}>
        <BellIcon /> Notifications{unread > 0 && <span className="count" data-testid="unread"> {unread}</span>}
        <span className="sr-only"> ({unread} unread)</span>
      </button>
      {open && (
        <div id="notices" className="popover">
          {notices.length === 0 && <p>No notices.</p>}
          <ul>
            {notices.map((n) => (
              <li key={n.id} className={n.readAt ? '' : 'unread'}>
                {n.message} <time>{when(n.createdAt)}</time>
              </li>
            ))}
          </ul>
          {unread > 0 && (
            <button type="button" onClick={() => void markRead({})}>
              Mark all read
            </button>
          )}
        </div>
      )}
      {toast && (
        <div className="toast" role="status" data-testid="toast">
          {toast}
          <button type="button" className="link" onClick={() => setToast(null)}>Dismiss</button>
        </div>
      )}
    </div>
  );
}

function BellIcon() {
  return (
    <svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" className="icon">
      <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
      <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
    </svg>
  );
}
