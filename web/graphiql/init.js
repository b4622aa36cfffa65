// Starts GraphiQL against this server's /graphql. Every asset comes from this server (no CDN),
// so it works offline and under a strict Content-Security-Policy. Headers (the Authorization
// token) are typed in the headers editor and not persisted: a token pasted on a shared
// support machine must not outlive the tab.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: new URL('/graphql', window.location.origin).toString() });
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
