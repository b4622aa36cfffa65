// Starts GraphiQL against this server's /graphql. Every asset comes from this server (no CDN),
// so it works offline and under a strict Content-Security-Policy. Headers (the Authorization
// token) are typed in the headers editor and not persisted: a token pasted on a shared
// support machine must not outlive the tab.
// Subscriptions go over this server's /graphql/ws (graphql-transport-ws, GraphiQL's bundled
// graphql-ws client); the headers editor's entries become `connection_init`'s payload, so the
// same {"Authorization": "Bearer …"} signs the socket in.
(function () {
  var ws = new URL('/graphql/ws', window.location.origin);
  ws.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  var fetcher = GraphiQL.createFetcher({
    url: new URL('/graphql', window.location.origin).toString(),
    subscriptionUrl: ws.toString(),
  });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultHeaders: '{}',
      defaultQuery:
        '# Sign in with `login`, then put the token in the headers below:\n' +
        '#   {"Authorization": "Bearer <accessToken>"}\n' +
        '{\n  me {\n    name\n    role\n    impersonatedBy { name }\n  }\n}\n',
    }),
  );
})();
