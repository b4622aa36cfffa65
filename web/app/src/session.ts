// The console's tokens, kept in this tab's sessionStorage: they survive a reload, are not
// shared with other tabs, and are gone when the tab closes. While impersonating, the admin's
// own refresh token is kept beside the impersonation token, so that when the session ends (the
// customer revoked it, a super admin ended it, it expired) the console returns to the admin's
// account without asking for a password again.
import { useSyncExternalStore } from 'react';

export type Tokens = { accessToken: string; refreshToken: string | null; expiresAt: string };
export type Session = Tokens & {
  /** The admin's own refresh token, kept while an impersonation token is in use. */
  returnRefresh?: string | null;
  /** Shown once after the console returned the admin to their own account. */
  flash?: string | null;
};

const KEY = 'crm.session';
const listeners = new Set<() => void>();
let current: Session | null = read();

function read(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function getSession(): Session | null {
  return current;
}

export function setSession(next: Session | null): void {
  current = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
}

export function useSession(): Session | null {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => current,
  );
}

/** A GraphQL call outside urql: sign-in, refresh and the way back from an impersonation. */
export async function post<T>(query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (body.errors?.length) throw new ApiError(body.errors[0].message, body.errors[0].extensions ?? {});
  return body.data as T;
}

export class ApiError extends Error {
  constructor(message: string, readonly extensions: Record<string, unknown>) {
    super(message);
  }
  get code(): string | undefined {
    return this.extensions.code as string | undefined;
  }
}

const REFRESH = `mutation Refresh($refreshToken: String!) {
  refreshToken(refreshToken: $refreshToken) { accessToken refreshToken expiresAt }
}`;

/** `work`, one run at a time: a call while a run is in flight shares it. A refresh token is
 *  good for one use; a second use is taken for a stolen token (its family revoked, the tab
 *  signed out), so each spending of one goes through here. */
function oneAtATime<T>(work: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () => (running ??= work().finally(() => {
    running = null;
  }));
}

/** Rotates the refresh token; signs out when it is refused. */
export const refresh = oneAtATime(async (): Promise<boolean> => {
  const s = current;
  const token = s?.refreshToken;
  if (!s || !token) return false;
  try {
    const d = await post<{ refreshToken: Tokens }>(REFRESH, { refreshToken: token });
    setSession({ ...d.refreshToken, flash: s.flash ?? null });
    return true;
  } catch {
    setSession(null);
    return false;
  }
});

/** What the admin is told on the way back: the banner's reason ("revoked by the customer")
 *  wins over a refused request's general one, whichever came first. */
let told: { why: string; specific: boolean } | null = null;

const goBack = oneAtATime(async (): Promise<void> => {
  const s = current;
  try {
    if (!s?.returnRefresh) {
      setSession(null);
      return;
    }
    const d = await post<{ refreshToken: Tokens }>(REFRESH, { refreshToken: s.returnRefresh });
    setSession({ ...d.refreshToken, flash: told?.why ?? null });
  } catch {
    setSession(null);
  } finally {
    told = null;
  }
});

/** The impersonation is over (stopped, revoked, ended, expired): back to the admin's account,
 *  with the admin's own refresh token kept beside the impersonation token. The banner's live
 *  event and a refused request often tell at once: they share one return. */
export function returnToOwnAccount(why: string, specific = true): Promise<void> {
  if (!told || (specific && !told.specific)) told = { why, specific };
  return goBack();
}

const LOGOUT = `mutation Logout($refreshToken: String!) { logout(refreshToken: $refreshToken) }`;

/**
 * Signs this tab out: the tab forgets its tokens at once, and the server revokes the refresh
 * tokens it held (the admin's own too, while impersonating), so a copy of them is worthless.
 */
export async function signOut(alsoRevoke?: string | null): Promise<void> {
  const s = current;
  setSession(null);
  const tokens = [s?.refreshToken, s?.returnRefresh, alsoRevoke].filter((t): t is string => !!t);
  await Promise.all(tokens.map((t) => post(LOGOUT, { refreshToken: t }).catch(() => undefined)));
}
