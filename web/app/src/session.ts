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

/** Rotates the refresh token; signs out when it is refused. One refresh at a time. */
let refreshing: Promise<boolean> | null = null;
export function refresh(): Promise<boolean> {
  if (refreshing) return refreshing;
  const s = current;
  const token = s?.refreshToken;
  if (!s || !token) return Promise.resolve(false);
  refreshing = post<{ refreshToken: Tokens }>(REFRESH, { refreshToken: token })
    .then((d) => {
      setSession({ ...d.refreshToken, flash: s.flash ?? null });
      return true;
    })
    .catch(() => {
      setSession(null);
      return false;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** The impersonation is over (stopped, revoked, ended, expired): back to the admin's account.
 *  One return at a time: the banner's live event and a refused request often tell at once,
 *  and a second use of the same refresh token would be taken for a stolen one (its family
 *  revoked, the admin signed out). */
let returning: Promise<void> | null = null;
/** What the admin is told on the way back: the banner's reason ("revoked by the customer")
 *  wins over a refused request's general one, whichever came first. */
let told: { why: string; specific: boolean } | null = null;
export function returnToOwnAccount(why: string, specific = true): Promise<void> {
  if (!told || (specific && !told.specific)) told = { why, specific };
  if (returning) return returning;
  const s = current;
  if (!s?.returnRefresh) {
    told = null;
    setSession(null);
    return Promise.resolve();
  }
  returning = post<{ refreshToken: Tokens }>(REFRESH, { refreshToken: s.returnRefresh })
    .then((d) => setSession({ ...d.refreshToken, flash: told?.why ?? why }))
    .catch(() => setSession(null))
    .finally(() => {
      returning = null;
      told = null;
    });
  return returning;
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
