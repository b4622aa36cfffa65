// The current user: the one document every page reads the caller from, and its type. The
// shell queries it; pages and the banner take its result as a prop.
import { graphql } from '../../generated/gql';
import type { MeQuery } from '../../generated/gql/graphql';

export const MeDoc = graphql(`
  query Me {
    me {
      id
      name
      email
      role
      isTwoFactorEnabled
      isTwoFactorAuthenticated
      isTotpEnabled
      passkeys { id name createdAt lastUsedAt }
      impersonationAllowed
      impersonationRequiresApproval
      impersonationReviewRequired
      currentTeam { id name }
      teams { id name }
      impersonatedBy { id name }
      impersonation { id mode expiresAt reason ticket ticketUrl elevateProofs grant { id mode } }
    }
  }
`);

export type Me = MeQuery['me'];

/** Admins and super admins: the console's admin pages. */
export const isAdmin = (me: Me) => me.role === 'ADMIN' || me.role === 'SUPER_ADMIN';
