// One urql client (and one normalized cache, `cache.ts`) per access token: queries and mutations over POST /graphql, subscriptions
// over /graphql/ws (graphql-transport-ws) with the token in connection_init's payload. A
// refused token sends the console to a refresh, or back to the admin's own account.
import { Client, fetchExchange, mapExchange, subscriptionExchange } from 'urql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { getSession, refresh, returnToOwnAccount } from './session';
import { normalizedCache } from './cache';

export type Clients = { client: Client; ws: WsClient };

export function makeClient(token: string | null): Clients {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = createWsClient({
    url: `${proto}//${location.host}/graphql/ws`,
    connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
    lazy: true,
    retryAttempts: 3,
  });
  const client = new Client({
    url: '/graphql',
    requestPolicy: 'cache-and-network',
    // Operations go over POST only: the server never executes one from a URL.
    preferGetMethod: false,
    fetchOptions: (): RequestInit => ({ headers: token ? { authorization: `Bearer ${token}` } : ({} as Record<string, string>) }),
    exchanges: [
      mapExchange({
        onError(error) {
          const unauthenticated = error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
          if (!unauthenticated || !token || getSession()?.accessToken !== token) return;
          const s = getSession();
          if (s?.returnRefresh) void returnToOwnAccount('Your support session has ended.', false);
          else void refresh();
        },
      }),
      // One normalized cache per token: what a mutation answers changes every page at once.
      normalizedCache(),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return { client, ws };
}
