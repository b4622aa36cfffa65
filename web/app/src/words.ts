// What the console says for the API's enum values.
import type { ImpersonationDenial, ImpersonationEndReason, ImpersonationMode } from '../../generated/gql/graphql';

export function denial(reason: ImpersonationDenial | null | undefined, name: string): string {
  switch (reason) {
    case 'TWO_FACTOR_DISABLED':
      return 'Turn on two-factor authentication to impersonate';
    case 'SELF':
      return 'This is your own account';
    case 'TARGET_IS_SUPER_ADMIN':
      return 'Super admins cannot be impersonated';
    case 'TARGET_IS_ADMIN':
      return 'Only a super admin can impersonate an admin';
    case 'ALREADY_IMPERSONATING':
      return 'Stop your current session first';
    case 'NOT_ALLOWED_BY_USER':
      return `${name} has turned support access off`;
    case 'REVIEW_REQUIRED':
      return `Changes to ${name}'s account need a second admin's review`;
    case 'APPROVAL_REQUIRED':
      return `${name} approves each session`;
    case 'IMPERSONATION_DISABLED':
      return 'Impersonation is switched off for everyone';
    default:
      return 'Not allowed';
  }
}

export function endReason(r: ImpersonationEndReason | null | undefined): string {
  switch (r) {
    case 'CANCELLED':
      return 'stopped by support';
    case 'EXPIRED':
      return 'time ran out';
    case 'IDLE_TIMEOUT':
      return 'ended after inactivity';
    case 'REVOKED_BY_USER':
      return 'access revoked by the customer';
    case 'ENDED_BY_ADMIN':
      return 'ended by an admin';
    case 'POLICY_CHANGED':
      return 'ended by a policy change';
    default:
      return 'running';
  }
}

export function mode(m: ImpersonationMode | null | undefined): string {
  return m === 'READ_ONLY' ? 'read-only' : 'read & write';
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function left(expiresAt: string, now: number): string {
  const s = Math.max(0, Math.floor((new Date(expiresAt).getTime() - now) / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')} left`;
}

/** A time of day in the reader's time zone: "7:09 PM" (or "19:09", per the browser). */
export function clock(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleTimeString(undefined, { timeStyle: 'short' });
}

/**
 * Server sentences give times as "18:58 UTC" (the server cannot know the reader's zone); the
 * console says them in the reader's zone, like every other time it shows. `on` is a moment of
 * the same day (the session's start), so a time just after midnight lands on the right date.
 */
export function localTimes(text: string, on: string | null | undefined): string {
  if (!on) return text;
  const day = new Date(on);
  return text.replace(/\b(\d{2}):(\d{2}) UTC\b/g, (_m, h: string, m: string) => {
    const t = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), Number(h), Number(m)));
    if (t.getTime() < day.getTime() - 12 * 3600_000) t.setUTCDate(t.getUTCDate() + 1);
    return clock(t.toISOString());
  });
}

/**
 * A server message as a sentence for people: a capital first letter, a full stop, and no
 * setting names meant for operators ("(WEBHOOK_ALLOW_PRIVATE)").
 */
export function forPeople(message: string): string {
  const plain = message.replace(/\s*\((?:[A-Z][A-Z0-9_]{3,}(?:=[^)]*)?)(?:[,;] ?[A-Z][A-Z0-9_]{3,}(?:=[^)]*)?)*\)/g, '').trim();
  if (!plain) return message;
  const first = plain.charAt(0).toUpperCase() + plain.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}
