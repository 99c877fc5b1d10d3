// Renders the API's own document. A file, not an inline script, because the
// page's Content-Security-Policy allows scripts from this origin only.
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  validatorUrl: null, // the default would send the document to a third-party validator
});
