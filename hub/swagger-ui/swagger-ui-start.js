// The hub's Swagger UI: every plugin's OpenAPI document, listed by the hub's /openapi index, in
// the top bar's dropdown. No validator badge (it would ask an outside host to validate).
(function () {
  "use strict";
  const index = new URL(document.body.dataset.index, window.location.href);
  fetch(index, { headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error(index + " answered " + response.status);
      return response.json();
    })
    .then(function (listed) {
      window.ui = SwaggerUIBundle({
        urls: listed.documents.map(function (entry) {
          return { name: entry.plugin, url: new URL(entry.url, index).toString() };
        }),
        dom_id: "#swagger-ui",
        deepLinking: true,
        validatorUrl: null,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        plugins: [SwaggerUIBundle.plugins.DownloadUrl],
        layout: "StandaloneLayout",
      });
    })
    .catch(function (error) {
      document.getElementById("swagger-ui").textContent = "Could not list the documents: " + error;
    });
})();
