// The hub's GraphiQL: queries and mutations over POST /graphql, subscriptions over the same
// path's websocket (graphql-transport-ws). Headers typed into GraphiQL's headers editor go with
// every HTTP request and, for subscriptions, in the connection_init payload, where the hub reads
// Authorization.
(function () {
  "use strict";
  const url = new URL(document.body.dataset.endpoint, window.location.href);
  const socketUrl = new URL(url);
  socketUrl.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const fetcher = GraphiQL.createFetcher({
    url: url.toString(),
    subscriptionUrl: socketUrl.toString(),
  });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  );
})();
