// The console's one source of truth: urql's normalized cache (graphcache). Every record the
// server sends is stored once under its id, so the answer of a mutation changes every page
// that shows that record: the header's name, the consent boxes, a Teams row, a grant's
// status. What an answer cannot say (a new item in a list, a Boolean answer, a live event) is
// said here, once, as the lists it makes stale; the pages that show them fetch them again.
// Pages keep no copies of their own of what the server saved.
//
// Why graphcache and not Apollo Client or a store of our own: the console already speaks
// urql, graphcache is its normalized cache (same maintainers, same exchanges, ~20 kB), and
// the rules below are the whole of what a store of our own would have to get right.
import { cacheExchange, type Cache, type UpdatesConfig } from '@urql/exchange-graphcache';

/** The signed-in user (`CurrentUser`) and the same person as a `User` (what `updateProfile`
 *  and the Teams List answer with) are one record: keyed by id alone. */
const PEOPLE = ['User', 'CurrentUser'];

/** Root fields whose lists an event or a Boolean answer makes stale. */
type Root = 'teams' | 'impersonations' | 'impersonationReviews' | 'reviewRequirementChanges'
  | 'webhookEndpoints' | 'impersonationSettings' | 'auditLogs' | 'supportAccessGrants';
/** Fields of the signed-in user (`me`) that an answer or an event makes stale. */
type Mine = 'supportAccessGrants' | 'accessHistory' | 'notifications' | 'passkeys' | 'isTotpEnabled'
  | 'isTwoFactorEnabled' | 'teams' | 'currentTeam';

/** Every cached page of `fields` (each set of arguments) of `entity` goes: the queries that
 *  show them fetch them again; nothing else is touched, so no page flickers. */
function drop(cache: Cache, entity: string, fields: string[]) {
  for (const f of cache.inspectFields(entity)) {
    if (fields.includes(f.fieldName)) cache.invalidate(entity, f.fieldName, f.arguments ?? undefined);
  }
}

function stale(cache: Cache, roots: Root[], mine: Mine[] = []) {
  drop(cache, 'Query', roots);
  const me = cache.resolve('Query', 'me');
  if (typeof me === 'string' && mine.length > 0) drop(cache, me, mine);
}

const after = (roots: Root[], mine: Mine[] = []) => (_r: unknown, _a: unknown, cache: Cache) => stale(cache, roots, mine);
const mineAfter = (...mine: Mine[]) => after([], mine);

const updates: UpdatesConfig = {
  Mutation: {
    // Answers with no record to store: the caller's own settings changed.
    turnOffTwoFactor: mineAfter('isTotpEnabled', 'isTwoFactorEnabled'),
    deletePasskey: mineAfter('passkeys', 'isTwoFactorEnabled'),
    markNotificationsRead: mineAfter('notifications'),
    createTeam: mineAfter('teams'),
    // A new window in the customer's list (a decision's answer updates its grant in place).
    grantSupportAccess: mineAfter('supportAccessGrants', 'notifications'),
    // What the admins' Teams List says of a person follows their settings.
    updateProfile: after(['teams']),
    // The admins' lists.
    requestSupportAccess: after(['teams', 'supportAccessGrants']),
    requestImpersonationReview: after(['teams', 'impersonationReviews']),
    approveImpersonationReview: after(['teams', 'impersonationReviews']),
    denyImpersonationReview: after(['teams', 'impersonationReviews']),
    withdrawImpersonationReview: after(['teams', 'impersonationReviews']),
    setImpersonationReviewRequired: after(['teams', 'reviewRequirementChanges']),
    requestReviewRequirementChange: after(['reviewRequirementChanges']),
    approveReviewRequirementChange: after(['teams', 'reviewRequirementChanges']),
    denyReviewRequirementChange: after(['reviewRequirementChanges']),
    setImpersonationEnabled: after(['impersonationSettings', 'impersonations', 'teams']),
    endImpersonation: after(['impersonations', 'teams']),
    createWebhookEndpoint: after(['webhookEndpoints']),
    deleteWebhookEndpoint: after(['webhookEndpoints']),
    sendTestWebhook: after(['webhookEndpoints']),
    rotateWebhookSecret: after(['webhookEndpoints']),
  },
  Subscription: {
    // The customer's account: a session, a request, a decision, a lapse.
    myAccountEvents: after(['teams'], ['supportAccessGrants', 'accessHistory', 'notifications']),
    // The admins' feed: sessions, reviews, a customer's window opened or closed.
    impersonationEvents: after(['impersonations', 'teams', 'impersonationReviews', 'supportAccessGrants']),
  },
};

export const normalizedCache = () =>
  cacheExchange({
    globalIDs: PEOPLE,
    updates,
    // Records without an id (checks, page info, settings) live inside their parent.
    logger: (severity, message) => {
      if (severity === 'error') console.error(message);
    },
  });
