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
