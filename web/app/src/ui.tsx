// Small shared pieces: error text with the API's code, a ticking clock, a page heading, the
// pager of a connection.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { CombinedError } from 'urql';
import type { ImpersonationDenial } from '../../generated/gql/graphql';
import { denial, forPeople } from './words';
import { ApiError } from './session';

export function message(error: CombinedError | Error): string {
  const e = error as CombinedError;
  if (e.graphQLErrors?.length) {
    const g = e.graphQLErrors[0];
    const code = g.extensions?.code as string | undefined;
    const reason = g.extensions?.reason as string | undefined;
    if (code === 'BLOCKED_WHILE_IMPERSONATING' && reason === 'READ_ONLY')
      return 'This support session is read-only: elevate it to make changes.';
    if (code === 'BLOCKED_WHILE_IMPERSONATING') return 'Not available while signed in as the customer.';
    if (code === 'IMPERSONATION_DENIED') return denial(reason as ImpersonationDenial | undefined, 'The customer');
    if (code === 'UNAUTHENTICATED') return 'Your session has ended: sign in again.';
    if (code === 'FORBIDDEN') return 'You are not allowed to do that.';
    if (code === 'NOT_FOUND') return 'Not found: it may have been removed, or it is not yours to see.';
    if (code === 'STEP_UP_REQUIRED') return 'Confirm it is you first: with your passkey, or a code where allowed.';
    if (code === 'RATE_LIMITED') return 'Too many attempts: wait a few minutes and try again.';
    if (code === 'INTERNAL') return 'Something went wrong on the server. Try again.';
    // BAD_USER_INPUT and the rest: the server's message, as a sentence for people.
    return forPeople(g.message);
  }
  if (error instanceof ApiError) return forPeople(error.message);
  if (e.networkError) return 'The server cannot be reached: check your connection; the page retries when you act again.';
  return error.message;
}

export function ErrorText({ error }: { error?: CombinedError | Error | null }) {
  if (!error) return null;
  return <p className="error" role="alert">{message(error)}</p>;
}

export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function Page({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · CRM console`;
  }, [title]);
  return (
    <section className="page">
      <div className="page-head">
        <h1>{title}</h1>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** Previous / Next over a connection: `cursors` is the stack of `after` values of the pages seen. */
export function Pager({ cursors, setCursors, pageInfo }: {
  cursors: (string | null)[];
  setCursors: (c: (string | null)[]) => void;
  pageInfo?: { hasNextPage: boolean; endCursor?: string | null };
}) {
  const next = pageInfo?.hasNextPage ? pageInfo.endCursor ?? null : null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>Previous</button>
      <span>Page {cursors.length}</span>
      <button type="button" disabled={!next} onClick={() => next && setCursors([...cursors, next])}>Next</button>
    </nav>
  );
}

/** Fired by the banner when the session's mode changes (elevated): `detail` is the mode. */
export const MODE_EVENT = 'crm:session-mode';

/** Whether the caller is in a read-only support session now: from the session it was started
 *  with, then from the banner as it is elevated. */
export function useReadOnly(startMode: string | null | undefined): boolean {
  const [mode, setMode] = useState(startMode ?? null);
  useEffect(() => setMode(startMode ?? null), [startMode]);
  useEffect(() => {
    const on = (e: Event) => setMode((e as CustomEvent<string>).detail);
    window.addEventListener(MODE_EVENT, on);
    return () => window.removeEventListener(MODE_EVENT, on);
  }, []);
  return mode === 'READ_ONLY';
}

/** Said beside every write control of a read-only session, which stays disabled. */
export function ReadOnlyNote({ id }: { id: string }) {
  return <p id={id} className="hint" role="note" data-testid="read-only-note">Read-only session: Elevate (in the banner) to make changes.</p>;
}

/** A modal `<dialog>`: the browser keeps focus inside it, and Escape closes it. */
export function Dialog({ title, children, onClose }: { title: string; children: ReactNode; onClose: () => void }) {
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
